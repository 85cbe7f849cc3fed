"""HTTP service: OpenAI-compatible ``/v1/audio/speech``, streaming, WebSocket, voices, metrics, preview page.

Needs the ``server`` extra: ``pip install 'kokoro-trt[server]'``. See ``docs/server.md``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from .app import create_app
from .settings import API_KEY_ENV, Settings

__all__ = ["API_KEY_ENV", "Settings", "create_app", "serve"]


def serve(
    host: str = "127.0.0.1",
    port: int = 8880,
    *,
    device: str = "auto",
    graphs: str | Path | None = None,
    weights: str | Path | None = None,
    voices_dir: str | Path | None = None,
    api_key: str | None = None,
    queue_size: int = 16,
    cache_size: int = 128,
    workers: int = 2,
    log_level: str = "info",
) -> None:
    """Load Kokoro on ``device`` (in the background; ``/health`` says when it is ready) and serve it.

    ``api_key`` (or ``$KOKORO_TRT_API_KEY``) turns on bearer auth; ``queue_size`` requests are admitted at
    once before 503; ``cache_size`` finished syntheses are kept for repeats (0: off).
    """
    import uvicorn

    from ..runtime import load_kokoro

    key = {"api_key": api_key} if api_key is not None else {}  # else the environment decides
    settings = Settings(queue_size=queue_size, cache_size=cache_size, workers=workers, **key)
    loader = partial(load_kokoro, device, graphs=graphs, weights=weights, voices_dir=voices_dir)
    uvicorn.run(create_app(loader, settings), host=host, port=port, log_level=log_level)
