"""Give the heap memory freed while loading back to the system."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` where the C library has none (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def return_freed_memory() -> bool:
    """Release free heap pages to the system; ``True`` when the C library could.

    Loading parses ~300 MB of graphs and reads the G2P's lexicons; glibc keeps much of what that
    frees in its heap (~40 MB here), resident and counted in RSS until reused.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
