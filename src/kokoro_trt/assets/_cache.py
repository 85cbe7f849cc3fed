"""Where kokoro-trt keeps the files it builds (assembled fallback weights, engines...), and the lock
that lets several processes share them."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from ..hashing import sha256_text

logger = logging.getLogger(__name__)


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
