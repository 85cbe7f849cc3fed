"""``build_any``: compile the graphs with whichever TensorRT this machine has (``kokoro-trt build``)."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from ..candidates import first_available
from ..errors import BackendUnavailableError, InvalidInputError
from ..graphs import GraphSet

logger = logging.getLogger(__name__)

BUILDERS = ("tensorrt", "tensorrt-rtx")


def build_any(
    graphs: GraphSet,
    backend: str = "auto",
    out_dir: str | Path | None = None,
    *,
    device_id: int = 0,
    force: bool = False,
) -> tuple[str, Path]:
    """Engines for ``graphs`` on GPU ``device_id``: ``(backend, folder)``; current ones are reused.

    ``auto`` tries native TensorRT, then TensorRT-RTX, and raises :class:`BackendUnavailableError`
    naming why each cannot build here.
    """
    if backend not in ("auto", *BUILDERS):
        raise InvalidInputError(f"backend must be auto, {' or '.join(BUILDERS)}, got {backend!r}")
    names = BUILDERS if backend == "auto" else (backend,)
    try:
        name, directory, skipped = first_available(
            (builder, partial(_build, builder, graphs, out_dir, device_id, force)) for builder in names
        )
    except BackendUnavailableError as exc:
        raise BackendUnavailableError(f"no TensorRT engine can be built here: {exc}") from None
    if skipped:
        logger.info("built with %s (skipped %s)", name, "; ".join(skipped))
    return name, directory


def _build(name: str, graphs: GraphSet, out_dir: str | Path | None, device_id: int, force: bool) -> Path:
    if name == "tensorrt":
        from .build import build_engines

        return build_engines(graphs, out_dir, device_id=device_id, force=force).directory
    from ..runtime.backends.tensorrt_rtx import compile_rtx

    return compile_rtx(graphs, out_dir, device_id=device_id, force=force)
