"""Keeping secrets out of uvicorn's logs, and the uvicorn configuration ``serve`` runs with.

uvicorn logs each request's URL with its query string, where a WebSocket client may carry the API key.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from .settings import Settings

_SECRET = re.compile(r"(?i)((?:api_key|access_token|token)=)[^&\s\"']*")
REDACTED = "***"
LOGGERS = ("uvicorn.access", "uvicorn.error")
"""uvicorn's loggers that print URLs: HTTP requests, and WebSocket connections."""


class RedactSecrets(logging.Filter):
    """Replaces the value of ``api_key=`` (and ``token=``) query parameters in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        record.msg = _redacted(record.msg)
        return True


def _redacted(value: Any) -> Any:
    return _SECRET.sub(rf"\g<1>{REDACTED}", value) if isinstance(value, str) else value


def uvicorn_config(app: Any, settings: Settings) -> Any:
    """The ``uvicorn.Config`` for ``app``: ``settings``' address and log level, WebSocket frames capped
    like request bodies, and :class:`RedactSecrets` on uvicorn's loggers (installed after the config,
    which sets up uvicorn's logging, so nothing replaces it)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        ws_max_size=settings.max_body_bytes,
    )
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
    return config
