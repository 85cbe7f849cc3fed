"""HTTP service: OpenAI-compatible ``/v1/audio/speech``, streaming, WebSocket, voices, metrics, preview page.

Needs the ``server`` extra: ``pip install 'kokoro-trt[server]'``. See ``docs/server.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .app import create_app
from .redact import uvicorn_config
from .settings import API_KEY_ENV, Settings

__all__ = ["API_KEY_ENV", "Settings", "create_app", "model_loader", "serve", "uvicorn_config"]


def model_loader(settings: Settings, threads: int | None = None) -> Callable[[], Any]:
    """A zero-argument loader of the model ``settings`` name, on ``threads`` CPU threads (default:
    ONNX Runtime's). Picklable, so Ray can send it to each replica."""
    from ..runtime import load_kokoro

    return partial(
        load_kokoro,
        settings.device,
        graphs=settings.graphs,
        weights=settings.weights,
        voices_dir=settings.voices_dir,
        lang=settings.lang,
        threads=threads,
        decode_window_seconds=settings.decode_window_seconds,
        precision=settings.precision,
    )


def serve(settings: Settings | None = None, **overrides: Any) -> None:
    """Load Kokoro as ``settings`` say (in the background; ``/health`` says when it is ready) and serve it.

    ``overrides`` are :class:`Settings` fields (``serve(port=9000, device="cuda")``); whatever neither
    gives comes from ``KOKORO_TRT_*`` environment variables, then the defaults.
    """
    import uvicorn

    settings = Settings(**{**(settings.model_dump() if settings is not None else {}), **overrides})
    uvicorn.Server(uvicorn_config(create_app(model_loader(settings), settings), settings)).run()
