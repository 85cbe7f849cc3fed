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

__all__ = [
    "SAMPLE_RATE",
    "BackendError",
    "BackendUnavailableError",
    "ChecksumError",
    "ExportError",
    "InvalidInputError",
    "KokoroError",
    "ModelConfig",
    "ModelNotFoundError",
    "OutputBufferError",
    "StaleEngineError",
    "VoiceNotFoundError",
]
