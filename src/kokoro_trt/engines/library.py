"""The two TensorRT flavours behind one API: native TensorRT and TensorRT for RTX.

``tensorrt`` (NVIDIA's TensorRT 10) and ``tensorrt_rtx_bindings`` (TensorRT for RTX, the same
builder/runtime Python API) differ in three ways this package cares about: TensorRT for RTX builds
ahead of time for a chosen compute capability on a machine without a GPU, compiles kernels just in
time on the target GPU (hence a runtime cache), and runs only on RTX-class GPUs.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any

from ..errors import BackendUnavailableError, InvalidInputError

logger = logging.getLogger(__name__)

LIBRARIES = ("tensorrt", "tensorrt-rtx")
"""Most preferred first: native TensorRT when installed, TensorRT for RTX next."""
NATIVE_MAJOR = 10
"""The native TensorRT major version this code supports (11 removed ``BuilderFlag.FP16``)."""


NO_GPU_MESSAGES = ("CUDA driver version is insufficient", "no CUDA-capable device")
"""Errors TensorRT for RTX logs, and builds past, when it builds ahead of time on a machine without a GPU."""


def recording_logger(trt: Any) -> Any:
    """A ``trt.ILogger`` forwarding to :mod:`logging` and keeping the errors for messages."""

    class RecordingLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity in (trt.ILogger.INTERNAL_ERROR, trt.ILogger.ERROR):
                self.errors.append(msg)
                quiet = any(text in msg for text in NO_GPU_MESSAGES)
                logger.log(logging.DEBUG if quiet else logging.ERROR, "TensorRT: %s", msg)
            elif severity == trt.ILogger.WARNING:
                logger.debug("TensorRT: %s", msg)

        def last_error(self, default: str) -> str:
            return self.errors[-1] if self.errors else default

    return RecordingLogger()


@dataclass(frozen=True)
class TensorRTLibrary:
    """One imported TensorRT flavour and the process's single logger for it."""

    name: str
    trt: Any = field(repr=False)
    logger: Any = field(repr=False)

    @property
    def version(self) -> str:
        return str(self.trt.__version__)

    @property
    def cross_builds(self) -> bool:
        """Whether engines can be built for a chosen compute capability without that GPU."""
        return self.name == "tensorrt-rtx"

    @property
    def architectures(self) -> tuple[str, ...]:
        """``sm86``-style names this library can target (TensorRT for RTX), empty for native TensorRT."""
        enum = getattr(self.trt, "ComputeCapability", None)
        if enum is None or not self.cross_builds:
            return ()
        return tuple(name.lower() for name in enum.__members__ if name.startswith("SM"))

    def compute_capability(self, arch: str) -> Any:
        """The ``ComputeCapability`` member for ``arch`` (``sm86``); :class:`InvalidInputError` if unsupported."""
        if arch not in self.architectures:
            raise InvalidInputError(
                f"{self.name} {self.version} cannot build for {arch}; it supports {', '.join(self.architectures)}"
            )
        return self.trt.ComputeCapability.__members__[arch.upper()]


def _import_native() -> Any:
    try:
        import tensorrt
    except ImportError:
        raise BackendUnavailableError("TensorRT is not installed: `pip install 'kokoro-trt[gpu]'`") from None
    major = int(str(tensorrt.__version__).split(".")[0])
    if major != NATIVE_MAJOR:
        raise BackendUnavailableError(
            f"TensorRT {tensorrt.__version__} is installed; kokoro-trt supports TensorRT {NATIVE_MAJOR}.x: "
            f"`pip install 'tensorrt>={NATIVE_MAJOR}.3,<{NATIVE_MAJOR + 1}'`"
        )
    return tensorrt


def _import_rtx() -> Any:
    try:
        import tensorrt_rtx_bindings
    except ModuleNotFoundError:
        raise BackendUnavailableError("TensorRT for RTX is not installed: `pip install 'kokoro-trt[rtx]'`") from None
    except ImportError:  # the bindings are there, libtensorrt_rtx.so.1 is not on the library path
        try:  # the ONNX Runtime RTX plugin wheel ships the library and preloads it on import
            import onnxruntime_ep_nv_tensorrt_rtx  # noqa: F401
            import tensorrt_rtx_bindings
        except ImportError as exc:
            raise BackendUnavailableError(
                f"TensorRT for RTX's library cannot load ({exc}): `pip install 'kokoro-trt[rtx]'`"
            ) from None
    return tensorrt_rtx_bindings


@functools.cache
def load_library(name: str) -> TensorRTLibrary:
    """Import ``tensorrt`` or ``tensorrt-rtx`` once per process; :class:`BackendUnavailableError` if absent."""
    if name not in LIBRARIES:
        raise InvalidInputError(f"TensorRT library must be one of {', '.join(LIBRARIES)}, got {name!r}")
    trt = _import_native() if name == "tensorrt" else _import_rtx()
    return TensorRTLibrary(name, trt, recording_logger(trt))
