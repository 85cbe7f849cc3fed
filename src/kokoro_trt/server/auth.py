"""Optional bearer-token auth: off unless ``Settings.api_key`` is set.

The key travels in the ``Authorization`` header; only the WebSocket route also takes ``?api_key=``, as
browsers cannot set headers there (URLs get logged: ``redact`` keeps the key out of the access log)."""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection, Request

from .errors import ApiError


def _presented(connection: HTTPConnection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return connection.query_params.get("api_key") if connection.scope["type"] == "websocket" else None


def check_api_key(connection: HTTPConnection, api_key: str | None) -> None:
    """Nothing when auth is off or the key matches; else a 401 :class:`ApiError`."""
    if api_key is None:
        return
    token = _presented(connection)
    if token is None or not hmac.compare_digest(token.encode(), api_key.encode()):
        raise ApiError(
            401,
            "Missing or invalid API key: send 'Authorization: Bearer <key>'.",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_key(request: Request) -> None:
    """FastAPI dependency for the ``/v1`` routes."""
    check_api_key(request, request.app.state.settings.api_key)
