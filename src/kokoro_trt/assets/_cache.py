"""Where kokoro-trt keeps the files it builds (assembled fallback weights, engines...)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$KOKORO_TRT_CACHE`` or ``~/.cache/kokoro-trt``, created on demand."""
    path = Path(os.environ.get("KOKORO_TRT_CACHE") or Path.home() / ".cache" / "kokoro-trt").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
