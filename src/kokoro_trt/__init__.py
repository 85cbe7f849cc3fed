"""kokoro-trt: fast, controllable Kokoro-82M text-to-speech."""

from .config import SAMPLE_RATE, ModelConfig
from .errors import (
    BackendError,
    BackendUnavailableError,
    ChecksumError,
    ExportError,
    InvalidInputError,
    KokoroError,
    ModelNotFoundError,
    OutputBufferError,
    StaleEngineError,
    VoiceNotFoundError,
)

__version__ = "0.1.0"

_LAZY = {
    "load_kokoro": "kokoro_trt.runtime",
    "KokoroModel": "kokoro_trt.runtime",
    "Speech": "kokoro_trt.runtime",
    "AudioChunk": "kokoro_trt.runtime",
    "download_model": "kokoro_trt.assets",
    "SynthesisOptions": "kokoro_trt.options",
}


def __getattr__(name: str):
    """Import the runtime on first use, so ``import kokoro_trt`` stays light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kokoro_trt' has no attribute {name!r}")


__all__ = [
    "SAMPLE_RATE",
    "AudioChunk",
    "BackendError",
    "BackendUnavailableError",
    "ChecksumError",
    "ExportError",
    "InvalidInputError",
    "KokoroError",
    "KokoroModel",
    "ModelConfig",
    "ModelNotFoundError",
    "OutputBufferError",
    "Speech",
    "StaleEngineError",
    "SynthesisOptions",
    "VoiceNotFoundError",
    "download_model",
    "load_kokoro",
]
