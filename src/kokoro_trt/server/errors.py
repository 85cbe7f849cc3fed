"""OpenAI-style JSON errors (``{"error": {"message", "type", "param", "code"}}``) and their handlers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import BackendError, InvalidInputError, KokoroError, VoiceNotFoundError

logger = logging.getLogger(__name__)

ECHO_CHARS = 100
"""The most of any client value an error message repeats back."""
_MESSAGE_CHARS = 2000
"""A backstop on any message's length (the longest we write lists every voice name)."""


def clip(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` cut to ``limit`` characters, marked when cut: errors name a bad value, never replay it."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def shown(value: object) -> str:
    """A client value as an error message quotes it (``repr``, clipped)."""
    return clip(repr(value))


def quoting(message: str, value: str) -> str:
    """A library's ``message`` with its quotation of the client's ``value`` clipped."""
    return message.replace(repr(value), shown(value))


class ApiError(Exception):
    """An error with its HTTP status and OpenAI error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        message, param = clip(message, _MESSAGE_CHARS), None if param is None else clip(param)
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def from_exception(exc: BaseException) -> ApiError:
    """The :class:`ApiError` for any exception raised while serving a request."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, VoiceNotFoundError):
        param = "emotion" if "emotion" in str(exc).split("'")[0] else "voice"
        return ApiError(400, str(exc), param=param, code=f"{param}_not_found")
    if isinstance(exc, InvalidInputError):
        return ApiError(400, str(exc), code="invalid_value")
    if isinstance(exc, BackendError):
        return ApiError(500, f"inference failed: {exc}", type="server_error", code="backend_error")
    if isinstance(exc, KokoroError):
        return ApiError(500, str(exc), type="server_error")
    logger.exception("unexpected error", exc_info=exc)
    return ApiError(500, f"internal error: {type(exc).__name__}", type="server_error")


def validation_error(errors: Sequence[Mapping[str, Any]]) -> ApiError:
    """The 400 for pydantic's first error, naming the field (``a.b``); unknown fields are refused by name."""
    first = errors[0] if errors else {}
    param = ".".join(clip(str(part)) for part in first.get("loc", ()) if part != "body") or None
    if first.get("type") == "extra_forbidden":
        message = f"{clip(param or '')}: unknown field; this server does not support it (see docs/server.md)"
        return ApiError(400, message, param=param, code="unknown_field")
    message = f"{clip(param)}: {first.get('msg', 'invalid value')}" if param else first.get("msg", "invalid request")
    return ApiError(400, message, param=param, code="invalid_value")


def install_handlers(app: FastAPI) -> None:
    """Every error leaves as an OpenAI-style JSON body."""

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        return from_exception(exc).response()

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        return validation_error(errors).response()

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):
            return from_exception(exc).response()
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        headers = dict(exc.headers) if exc.headers else None
        return ApiError(exc.status_code, str(exc.detail), type=kind, headers=headers).response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(KokoroError, api_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
