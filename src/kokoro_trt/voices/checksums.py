"""sha256 checksum lists (``SHA256SUMS``, as written by ``sha256sum``) and their verification."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import ChecksumError, KokoroError

CHECKSUM_FILE = "SHA256SUMS"
"""Name of the checksum list looked for next to voice packs."""


def read_sha256sums(path: str | Path) -> dict[str, str]:
    """Parse a ``sha256sum`` listing into ``{file name: lowercase hex digest}``."""
    path = Path(path)
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")  # "*name" marks binary mode
        if len(digest) != 64 or not name:
            raise KokoroError(f"{path}:{number}: expected '<sha256>  <file name>', got {line!r}.")
        sums[name] = digest.lower()
    return sums


def verify_sha256(data: bytes, expected: str, source: str | Path) -> None:
    """Raise :class:`ChecksumError` naming ``source`` when ``data`` does not hash to ``expected``."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.lower():
        raise ChecksumError(
            f"{source} is corrupt: sha256 {actual} does not match the published {expected.lower()}. "
            "Delete it and download it again (`kokoro-trt download`)."
        )
