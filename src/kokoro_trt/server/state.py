"""The app's model state: loading in the background, ready, or failed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from .errors import ApiError
from .metrics import Metrics
from .service import Service
from .settings import Settings

logger = logging.getLogger(__name__)


class ModelState:
    """Holds the :class:`Service` once the model is loaded; until then requests get 503."""

    def __init__(self, settings: Settings, metrics: Metrics, lexicon: Mapping[str, str]) -> None:
        self.settings, self.metrics, self.lexicon = settings, metrics, lexicon
        self.service: Service | None = None
        self.error: str | None = None

    def ready(self, model: Any) -> None:
        self.service = Service(model, self.settings, self.metrics, self.lexicon)

    async def load(self, loader: Callable[[], Any]) -> None:
        """Run ``loader`` in a thread (export and engine builds can take minutes on first start)."""
        try:
            self.ready(await asyncio.to_thread(loader))
            logger.info("model loaded: %s", self.service.model.backend_name if self.service else "?")
        except Exception as exc:  # reported by /health and every request
            logger.exception("loading the model failed")
            self.error = f"{type(exc).__name__}: {exc}"

    @property
    def status(self) -> str:
        return "ok" if self.service else ("error" if self.error else "loading")

    def require(self) -> Service:
        if self.service is not None:
            return self.service
        if self.error is not None:
            raise ApiError(
                500, f"model failed to load: {self.error}", type="server_error", code="model_error"
            )
        raise ApiError(
            503, "model is loading", type="server_error", code="loading", headers={"Retry-After": "5"}
        )


def service_of(connection: HTTPConnection) -> Service:
    """FastAPI dependency: the ready service (503 while loading)."""
    return connection.app.state.model.require()


ServiceDep = Annotated[Service, Depends(service_of)]
"""A route parameter receiving the ready service."""
