"""``WS /v1/audio/speech/ws``: text in as it is typed or generated, audio out sentence by sentence.

Client → server (JSON): ``{"type": "config", ...SpeechOptions}`` (before any text), ``{"type": "text",
"text": "..."}`` (appended; every complete sentence is spoken at once), ``{"type": "flush"}`` (speak
what is buffered), ``{"type": "end"}`` (flush, finish the audio stream, close).
Server → client: binary audio frames (one continuous stream in ``response_format``, pcm by default),
``{"type": "segment", "text", "samples", "words"}`` after each spoken piece (``words``: its word timings), ``{"type": "error", "error": {...}}``
(the socket stays open), and ``{"type": "done"}`` before closing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.types import Message

from ..errors import KokoroError
from .auth import check_api_key
from .bodies import timestamps
from .encoders import Encoder, apply_gain, make_encoder
from .errors import ApiError, from_exception, shown, validation_error
from .jobs import prepare
from .origins import origin_allowed
from .schemas import SpeechOptions
from .service import Service
from .textbuffer import SentenceBuffer, split_complete

__all__ = ["router", "split_complete"]  # split_complete: where tests/test_text_sentences.py finds it

router = APIRouter()

OFF_LOOP_CHARS = 2048
"""New text longer than this is scanned for sentences in a thread (a 64 KB scan takes ~0.2 s)."""
INBOX_MESSAGES = 32
"""Messages read ahead while a synthesis runs; a client sending more waits (TCP backpressure)."""


class _Session:
    """One socket's options, text buffer and encoder."""

    def __init__(self, ws: WebSocket, service: Service) -> None:
        self.ws, self.service = ws, service
        self.options = SpeechOptions(response_format="pcm")
        self.buffer = SentenceBuffer(service.settings.ws_buffer_chars)
        self.encoder: Encoder | None = None

    def configure(self, fields: dict) -> None:
        if self.encoder is not None:
            raise ApiError(400, "config must come before any text", code="late_config")
        self.options = SpeechOptions(**{**self.options.model_dump(exclude_unset=True), **fields})

    async def speak(self, text: str) -> None:
        if not text.strip():
            return
        prepared = prepare(text, self.options, self.service.model, self.service.settings, self.service.lexicon)
        if self.encoder is None:
            self.encoder = make_encoder(self.options.response_format, self.service.sample_rate, streaming=True)
        pieces, outcome = await self.service.stream(prepared.job)
        words = []
        async with aclosing(pieces):  # a client gone mid-text stops the synthesis here, not at its end
            async for piece in pieces:
                words += timestamps(piece.words)
                audio = apply_gain(piece.audio, prepared.volume)
                await self._send_bytes(await asyncio.to_thread(self.encoder.encode, audio))
        await self.ws.send_json({"type": "segment", "text": text.strip(), "samples": outcome.samples, "words": words})

    async def append(self, text: str) -> None:
        """Buffers ``text`` and speaks the sentences it completes."""
        if len(text) > OFF_LOOP_CHARS:
            ready = await asyncio.to_thread(self.buffer.append, text)
        else:
            ready = self.buffer.append(text)
        await self.speak(ready)

    async def end(self) -> None:
        await self.speak(self.buffer.take())
        if self.encoder is not None:
            await self._send_bytes(await asyncio.to_thread(self.encoder.finish))
        await self.ws.send_json({"type": "done"})

    async def handle(self, message: dict) -> bool:
        """Act on one message; ``False`` once the session is over."""
        kind = message.get("type")
        if kind == "config":
            self.configure({k: v for k, v in message.items() if k != "type"})
        elif kind == "text":
            if not isinstance(message.get("text"), str):
                raise ApiError(400, "a text message needs a string 'text'", param="text", code="invalid_value")
            await self.append(message["text"])
        elif kind == "flush":
            await self.speak(self.buffer.take())
        elif kind == "end":
            await self.end()
            return False
        else:
            raise ApiError(400, f"unknown message type {shown(kind)}: use config, text, flush or end", param="type")
        return True

    async def _send_bytes(self, data: bytes) -> None:
        if data:
            await self.ws.send_bytes(data)


def parsed(message: Mapping[str, Any]) -> dict:
    """The JSON object a received frame holds; a 400 :class:`ApiError` for anything else."""
    if message.get("text") is None:
        raise ApiError(400, "binary frames are not part of this protocol: send JSON text frames", code="binary_frame")
    try:
        value = json.loads(message["text"])
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"invalid JSON: {exc.msg} at character {exc.pos}", code="invalid_json") from None
    if not isinstance(value, dict):
        raise ApiError(400, "messages must be JSON objects", code="invalid_value")
    return value


@router.websocket("/v1/audio/speech/ws")
async def speech_ws(ws: WebSocket) -> None:
    settings = ws.app.state.settings
    if not origin_allowed(ws, settings):
        await ws.close(code=1008, reason="origin not allowed (setting ws_origins)")
        return
    try:
        check_api_key(ws, settings.api_key)
        service = ws.app.state.model.require()
    except ApiError as exc:
        await ws.close(code=1008 if exc.status == 401 else 1013, reason=exc.message[:120])
        return
    await ws.accept()
    inbox: asyncio.Queue[Message] = asyncio.Queue(INBOX_MESSAGES)
    handler = asyncio.create_task(_handle(_Session(ws, service), inbox))
    reader = asyncio.create_task(_read(ws, inbox))
    try:
        await asyncio.wait((handler, reader), return_when=asyncio.FIRST_COMPLETED)
    finally:  # the client gone (the reader is done): what is being spoken stops now, and frees its slot
        for task in (handler, reader):
            task.cancel()
        await asyncio.wait((handler, reader))
    if not handler.cancelled():
        handler.result()  # an unexpected error, for the server's log


async def _handle(session: _Session, inbox: asyncio.Queue[Message]) -> None:
    """Acts on the messages in ``inbox`` until ``end``."""
    try:
        while True:
            message = await inbox.get()
            try:
                if not await session.handle(parsed(message)):
                    await session.ws.close()
                    return
            except ValidationError as exc:
                await session.ws.send_json({"type": "error", **validation_error(exc.errors()).body()})
            except (ApiError, KokoroError) as exc:  # the client's mistake, or a busy server
                await session.ws.send_json({"type": "error", **from_exception(exc).body()})
    except WebSocketDisconnect:
        pass


async def _read(ws: WebSocket, inbox: asyncio.Queue[Message]) -> None:
    """Receives messages as they come, while the session may be busy speaking, and returns once the
    client has gone. uvicorn reads nothing from a socket, keepalive pongs included, until the app asks
    for the next message, so a long synthesis would otherwise end in a keepalive timeout."""
    while (message := await ws.receive())["type"] != "websocket.disconnect":
        await inbox.put(message)
