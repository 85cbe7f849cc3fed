"""Work for a client that may leave: cancelled as soon as the client disconnects.

A whole (non-streamed) response sends nothing until the audio is done, nor a stream before its first
chunk, so a client that left meanwhile is only noticed by listening for ``http.disconnect``. Cancelling
the work frees its queue slot and stops the synthesis at its next chunk (``KokoroModel.aspeak``), or
before it starts when it still waits for a worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

from .errors import ApiError

T = TypeVar("T")

CLIENT_GONE = 499
"""The status logged for a request whose client left before the answer (nginx's convention)."""


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """``work``'s result; if the client disconnects first, ``work`` is cancelled and a 499
    :class:`ApiError` raised (no one reads it; it marks the request in the log and the metrics)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.create_task(_disconnect(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))  # its slot is free once this returns
    if task.cancelled():
        raise ApiError(CLIENT_GONE, "client closed the request", code="client_gone")
    return task.result()


async def _disconnect(request: Request) -> None:
    """Returns once the client has gone (the body has been read: ``receive`` now only reports that)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
