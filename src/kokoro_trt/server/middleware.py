"""Pure ASGI middleware: request metrics and the request body limit.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``) so the app's ``receive`` stays the server's own: a
client's disconnect reaches the endpoint at once, and streamed responses are not relayed through a queue.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError
from .metrics import Metrics


class MeasuredRequests:
    """Counts each HTTP request by route and status, and times it to its response headers."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500  # what the server answers when the app raises before responding

        async def measured(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self.metrics.latency.labels(_path(scope)).observe(time.perf_counter() - start)
            await send(message)

        try:
            await self.app(scope, receive, measured)
        finally:
            self.metrics.requests.labels(_path(scope), str(status)).inc()


def _path(scope: Scope) -> str:
    """The matched route's template (bounded label values), ``other`` when none matched."""
    return getattr(scope.get("route"), "path", "other")


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413 before anything parses them: at once when
    ``Content-Length`` says so, else as soon as the bytes received pass the limit. The body is read
    here and replayed to the app, which then sees the server's own ``receive`` (and disconnects)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(scope, receive, send)
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # gone before the body came
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(scope, receive, send)
            more = message.get("more_body", False)
        body: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> Message:
            return body.pop() if body else await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = ApiError(
            413,
            f"request body is over this server's limit of {self.max_bytes} bytes (setting max_body_bytes)",
            code="body_too_large",
        )
        await error.response()(scope, receive, send)
