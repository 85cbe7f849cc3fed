"""Typed errors raised by kokoro-trt.

Every error a user can trigger derives from :class:`KokoroError`, so callers can catch one type.
Errors about bad arguments also derive from :class:`ValueError`.
"""

from __future__ import annotations


class KokoroError(Exception):
    """Base class of every error kokoro-trt raises on purpose."""


class InvalidInputError(KokoroError, ValueError):
    """An argument is out of range or malformed (empty text, speed 7.0, bad blend spec...)."""


class ModelNotFoundError(KokoroError, FileNotFoundError):
    """Weights, config, graphs or engines are missing; the message names the fix."""


class ChecksumError(KokoroError):
    """A downloaded or assembled file does not match its published sha256."""


class VoiceNotFoundError(KokoroError, KeyError):
    """An unknown voice, character or emotion name; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class OutputBufferError(InvalidInputError):
    """The caller's output buffer is too small, of the wrong dtype or on the wrong device."""


class BackendError(KokoroError, RuntimeError):
    """The inference backend failed (out of memory, lost device...). The model stays usable."""


class BackendUnavailableError(BackendError):
    """The requested backend cannot run here (no GPU, missing library)."""


class StaleEngineError(KokoroError):
    """A compiled engine does not match this GPU, TensorRT version or ONNX graph."""


class ExportError(KokoroError, RuntimeError):
    """Exporting or importing model weights failed."""


class EngineBuildError(KokoroError, RuntimeError):
    """Compiling a graph into a TensorRT engine failed; the message carries the builder's errors."""


class DeviceOutOfMemoryError(BackendError):
    """The GPU ran out of memory. Free memory (or shorten the input) and call again."""


class DeviceLostError(BackendError):
    """The CUDA context is unusable (illegal address, launch failure, lost device): reload the model."""


class EngineArchitectureError(StaleEngineError):
    """Engines exist, but for another GPU architecture (compute capability); the message names the build."""


class CorruptFileError(ChecksumError):
    """A built file (exported graph, assembled weights) no longer matches the sha256 recorded when it
    was written, and kokoro-trt cannot rebuild it here. ``paths`` lists the damaged files."""

    def __init__(self, message: str, paths: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.paths = paths
