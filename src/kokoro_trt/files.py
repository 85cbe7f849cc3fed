"""Writing files so that readers never see half of one, and writers never collide.

Every temporary is named ``.<target name>.<random>.tmp`` beside its target, so concurrent writers of
one file never share a name, and the leftovers of a killed writer can be found and removed by whoever
next holds the lock that guards the target.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

_SUFFIX = ".tmp"
QUARANTINE_SUFFIX = ".corrupt"


def _prefix(path: Path) -> str:
    return f".{path.name}."


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A new, uniquely named file to write ``path``'s content into; renamed over ``path`` (mode 0644)
    when the block ends, deleted when it raises."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=_prefix(path), suffix=_SUFFIX)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; caches are shared between users
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes | memoryview | str) -> None:
    """Write ``data`` (text as UTF-8) to a temporary file beside ``path``, then rename it into place."""
    with replacing(path) as f:
        f.write(data.encode() if isinstance(data, str) else data)


def temporary_dir(path: Path) -> Path:
    """A new, uniquely named folder beside ``path`` to build its content in."""
    return Path(tempfile.mkdtemp(dir=path.parent, prefix=_prefix(path), suffix=_SUFFIX))


def remove_stale_temporaries(directory: Path, names: Iterable[str]) -> list[Path]:
    """Delete the temporaries of ``names`` in ``directory`` (files or folders) that a killed writer left.

    Only safe while holding the lock that every writer of those names holds: then no live writer owns one.
    """
    removed = []
    for name in names:
        for leftover in directory.glob(f"{_prefix(Path(name))}*{_SUFFIX}"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            logger.warning("removed %s, left over by an interrupted run", leftover)
            removed.append(leftover)
    return removed


def quarantine(path: Path, problem: str) -> Path:
    """Rename a damaged ``path`` aside to ``<name>.corrupt`` (replacing an older one, so at most one copy
    per file is kept for inspection) and log a warning saying why."""
    aside = path.with_name(path.name + QUARANTINE_SUFFIX)
    os.replace(path, aside)
    logger.warning("%s %s; moved it aside to %s", path, problem, aside.name)
    return aside
