"""``create_app``: the FastAPI application around one shared model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from ..text import load_lexicon
from .auth import require_key
from .captions import router as captions_router
from .combine import router as combine_router
from .errors import install_handlers
from .info import router as info_router
from .jobs import EXPOSED_HEADERS
from .metrics import Metrics
from .middleware import BodyLimit, MeasuredRequests
from .settings import Settings
from .speech import router as speech_router
from .state import ModelState
from .websocket import router as ws_router


def create_app(model: Any | Callable[[], Any], settings: Settings | None = None) -> FastAPI:
    """The app serving ``model`` (a loaded :class:`~kokoro_trt.runtime.KokoroModel`) or a zero-argument
    loader called in a thread at startup, while ``/health`` answers 503 "loading".

    ``settings.lexicon`` is read here, so a bad file fails the start rather than the first request."""
    settings = settings or Settings()
    metrics = Metrics()
    lexicon = load_lexicon(settings.lexicon) if settings.lexicon is not None else {}
    state = ModelState(settings, metrics, lexicon)
    loader = model if callable(model) and not hasattr(model, "stream") else None
    if loader is None:
        state.ready(model)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(state.load(loader)) if loader is not None else None
        yield
        if task is not None:
            task.cancel()
        if state.service is not None:
            state.service.shutdown()

    app = FastAPI(title="kokoro-trt", summary="Kokoro-82M text to speech, OpenAI-compatible", lifespan=lifespan)
    app.state.settings, app.state.metrics, app.state.model = settings, metrics, state
    install_handlers(app)
    for router in (speech_router, captions_router, combine_router):
        app.include_router(router, dependencies=[Depends(require_key)])
    app.include_router(info_router)
    app.include_router(ws_router)

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MeasuredRequests, metrics=metrics)  # outside the limit: a 413 is counted too
    if settings.cors_origins:  # added last, so it answers preflights before anything else runs
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Sample-Rate", *EXPOSED_HEADERS],
        )
    return app
