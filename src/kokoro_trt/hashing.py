"""File hashing shared by the export cache, graph manifests and engine manifests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .files import atomic_write


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
