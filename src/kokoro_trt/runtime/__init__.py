"""The runtime Director nodes import: ``load_kokoro`` and ``KokoroModel``; torch is optional."""

from .buffers import OutputTarget, wrap_output
from .load import load_kokoro, resolve_graphs, select_backend
from .model import DEFAULT_MAX_SECONDS, AudioChunk, KokoroModel, Speech
from .noise import DEFAULT_SEED

__all__ = [
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_SEED",
    "AudioChunk",
    "KokoroModel",
    "OutputTarget",
    "Speech",
    "load_kokoro",
    "resolve_graphs",
    "select_backend",
    "wrap_output",
]
