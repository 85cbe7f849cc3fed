"""``build_any``: compile the graphs with whichever TensorRT fits (``kokoro-trt build``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from ..candidates import first_available
from ..errors import BackendUnavailableError, InvalidInputError
from ..graphs import GraphSet
from .build import build_engines
from .library import LIBRARIES
from .store import EngineSet

logger = logging.getLogger(__name__)

BUILDERS = LIBRARIES


def build_any(
    graphs: GraphSet,
    backend: str = "auto",
    out_dir: str | Path | None = None,
    *,
    archs: Sequence[str] = (),
    device_id: int = 0,
    force: bool = False,
    progress: bool = True,
) -> list[tuple[str, EngineSet]]:
    """Engine sets for ``graphs``: ``[(backend, set), ...]``; current ones are reused.

    With ``archs`` (``["sm86", "sm89"]``) TensorRT for RTX builds one set per architecture, on this
    machine, GPU or not. Without, ``auto`` builds for GPU ``device_id`` with native TensorRT, else
    TensorRT for RTX, and raises :class:`BackendUnavailableError` naming why each cannot build here.
    """
    if backend not in ("auto", *BUILDERS):
        raise InvalidInputError(f"backend must be auto, {' or '.join(BUILDERS)}, got {backend!r}")
    build = partial(build_engines, graphs, out_dir, device_id=device_id, force=force, progress=progress)
    if archs:
        if backend == "tensorrt":
            raise InvalidInputError("--arch builds need TensorRT for RTX (`--backend tensorrt-rtx`)")
        return [("tensorrt-rtx", build(library="tensorrt-rtx", arch=arch)) for arch in dict.fromkeys(archs)]
    names = BUILDERS if backend == "auto" else (backend,)
    try:
        name, engines, skipped = first_available((lib, partial(build, library=lib)) for lib in names)
    except BackendUnavailableError as exc:
        raise BackendUnavailableError(
            f"no TensorRT engine can be built for a GPU here: {exc}. Without a GPU, TensorRT for RTX builds "
            "for a chosen architecture: `kokoro-trt build --backend tensorrt-rtx --arch sm86`"
        ) from None
    if skipped:
        logger.info("built with %s (skipped %s)", name, "; ".join(skipped))
    return [(name, engines)]
