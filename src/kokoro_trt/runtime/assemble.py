"""A :class:`KokoroModel` put together from its parts: the text front end loads while the backend builds."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..config import ModelConfig
from ..text import TextFrontend
from ..voices import VoiceStore
from .backends.base import Backend
from .heap import return_freed_memory
from .model import KokoroModel


def assemble_model(
    make_backend: Callable[[], Backend],
    config: ModelConfig,
    *,
    lang: str = "en-us",
    voices_dir: str | Path | None = None,
    local_files_only: bool | None = None,
    decode_window_seconds: float | None = None,
) -> KokoroModel:
    """``make_backend()``, the front end of ``lang`` and the voice store, as one model."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The G2P (spaCy, lexicons) loads in Python while the inference library builds its sessions in
        # native code with the GIL released: together they take about as long as the longer one.
        text = pool.submit(TextFrontend(config.vocab, lang=lang).load)
        backend = make_backend()
        frontend = text.result()
    voices = VoiceStore(voices_dir, local_files_only=local_files_only)
    return_freed_memory()
    return KokoroModel(
        backend, config=config, frontend=frontend, voices=voices, decode_window_seconds=decode_window_seconds
    )
