"""HTTP service: OpenAI-compatible ``/v1/audio/speech``, streaming, WebSocket, voices, metrics, preview page.

Needs the ``server`` extra: ``pip install 'kokoro-trt[server]'``. See ``docs/server.md``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from .app import create_app
from .redact import uvicorn_config
from .settings import API_KEY_ENV, Settings

__all__ = ["API_KEY_ENV", "Settings", "create_app", "serve", "uvicorn_config"]


def serve(settings: Settings | None = None, **overrides: Any) -> None:
    """Load Kokoro as ``settings`` say (in the background; ``/health`` says when it is ready) and serve it.

    ``overrides`` are :class:`Settings` fields (``serve(port=9000, device="cuda")``); whatever neither
    gives comes from ``KOKORO_TRT_*`` environment variables, then the defaults.
    """
    import uvicorn

    from ..runtime import load_kokoro

    settings = Settings(**{**(settings.model_dump() if settings is not None else {}), **overrides})
    loader = partial(
        load_kokoro,
        settings.device,
        graphs=settings.graphs,
        weights=settings.weights,
        voices_dir=settings.voices_dir,
        lang=settings.lang,
    )
    uvicorn.Server(uvicorn_config(create_app(loader, settings), settings)).run()
