"""The files kokoro-trt builds and shares between processes: where they live, how they are written,
checked and set aside.

- The cache folder (``$KOKORO_TRT_CACHE`` or ``~/.cache/kokoro-trt``) and a cross-process lock per built
  file or folder, so containers sharing one volume build each thing once.
- Writes that readers never see half of: every temporary is named ``.<target name>.<random>.tmp`` beside
  its target, so concurrent writers never share a name, and whoever next holds the target's lock can
  find and remove the leftovers of a killed writer.
- Content hashes, and quarantine for a file that fails its hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock, Timeout

logger = logging.getLogger(__name__)

# -- the cache folder and its lock -----------------------------------------------------------------


def cache_dir() -> Path:
    """``$KOKORO_TRT_CACHE`` or ``~/.cache/kokoro-trt``, created on demand."""
    path = Path(os.environ.get("KOKORO_TRT_CACHE") or Path.home() / ".cache" / "kokoro-trt").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """Hold the cross-process lock of ``path`` (a file or folder that is built once and then reused).

    Whoever builds, checks or cleans ``path`` holds it, so two processes starting on one empty cache
    build it once and the second reuses it. The lock file lives in ``<cache>/locks/``, named after the
    resolved path, so folders the user names (``out_dir``) hold nothing but their own files.
    """
    resolved = Path(path).resolve()
    locks = cache_dir() / "locks"
    locks.mkdir(exist_ok=True)
    lock = FileLock(locks / f"{resolved.name}-{sha256_text(str(resolved))[:12]}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("waiting for another process to finish building %s", resolved)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


# -- writing ---------------------------------------------------------------------------------------

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


# -- hashing ---------------------------------------------------------------------------------------


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _stamp(path: Path, sha256: str) -> list[str | int]:
    stat = path.stat()
    return [sha256, stat.st_size, stat.st_mtime_ns]


def mismatched_files(expected: dict[Path, str], record: Path) -> list[Path]:
    """The files of ``expected`` (path -> sha256) whose content does not hash to their sha256.

    Hashing in full on every call costs ~1 s per GB, so each file that passes is stamped in ``record``
    with its (size, mtime_ns), and a file is hashed again only when that stamp changes. A write,
    truncation or copy changes the stamp; a deliberate forgery that restores the mtime is not caught.
    ``record`` is a cache: failing to read or write it only costs a rehash.
    """
    try:
        stamps = json.loads(record.read_text())
    except (OSError, ValueError):
        stamps = {}
    if not isinstance(stamps, dict):
        stamps = {}
    current: dict[str, list[str | int]] = {}
    bad = []
    for path, sha256 in expected.items():
        stamp = _stamp(path, sha256)
        if stamps.get(path.name) == stamp or sha256_file(path) == sha256:
            current[path.name] = stamp
        else:
            bad.append(path)
    if current != stamps:
        try:
            atomic_write(record, json.dumps(current))
        except OSError:  # a read-only folder: verify in full next time
            pass
    return bad
