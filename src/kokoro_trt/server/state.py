"""The app's model state: loading in the background, ready, or failed."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from .errors import ApiError
from .metrics import Metrics
from .service import Service
from .settings import Settings

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 60.0
_PATH = re.compile(r"""[^\s'"]*[\\/][^\s'"]*""")
"""A word with a slash or backslash in it: a file path, which clients have no business seeing."""


class ModelState:
    """Holds the :class:`Service` once the model is loaded; until then requests get 503.

    A failed load is tried again (``load_attempts`` in all, waits doubling from ``load_backoff_s``), as
    its cause may pass (a busy device, a volume not yet mounted); after the last try the server reports
    the error until restarted."""

    def __init__(self, settings: Settings, metrics: Metrics, lexicon: Mapping[str, str]) -> None:
        self.settings, self.metrics, self.lexicon = settings, metrics, lexicon
        self.service: Service | None = None
        self.last_error: str | None = None
        """The latest failure, as clients may see it: the exception's type and message, paths hidden."""
        self.attempts = 0
        self.gave_up = False

    def ready(self, model: Any) -> None:
        self.service = Service(model, self.settings, self.metrics, self.lexicon)

    async def load(self, loader: Callable[[], Any]) -> None:
        """Run ``loader`` in a thread (export and engine builds can take minutes on first start)."""
        while self.attempts < self.settings.load_attempts:
            if self.attempts:
                await asyncio.sleep(self._backoff())
            self.attempts += 1
            try:
                model = await asyncio.to_thread(loader)
            except Exception as exc:  # reported by /health and every request; the log has it whole
                logger.exception("loading the model failed (try %d of %d)", self.attempts, self.settings.load_attempts)
                self.last_error = f"{type(exc).__name__}: {_PATH.sub('<path>', str(exc))}"
                continue
            self.ready(model)
            logger.info("model loaded: %s", model.backend_name)
            return
        self.gave_up = True

    def _backoff(self) -> float:
        return min(self.settings.load_backoff_s * 2 ** (self.attempts - 1), MAX_BACKOFF_S)

    @property
    def status(self) -> str:
        return "ok" if self.service else ("error" if self.gave_up else "loading")

    @property
    def error(self) -> str | None:
        """Why there is no model yet (``None`` while the first try runs, or once loaded)."""
        if self.service is not None or self.last_error is None:
            return None
        if self.gave_up:
            return f"model failed to load after {self.attempts} attempts: {self.last_error}"
        tries = f"attempt {self.attempts} of {self.settings.load_attempts}"
        return f"model failed to load ({tries}, retrying): {self.last_error}"

    def require(self) -> Service:
        if self.service is not None:
            return self.service
        if self.gave_up:
            raise ApiError(500, self.error or "model failed to load", type="server_error", code="model_error")
        raise ApiError(
            503,
            self.error or "model is loading",
            type="server_error",
            code="loading",
            headers={"Retry-After": "5"},
        )


def service_of(connection: HTTPConnection) -> Service:
    """FastAPI dependency: the ready service (503 while loading)."""
    return connection.app.state.model.require()


ServiceDep = Annotated[Service, Depends(service_of)]
"""A route parameter receiving the ready service."""
