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
import unicodedata

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from ..errors import KokoroError
from ..text import split_sentences
from .auth import check_api_key
from .bodies import timestamps
from .encoders import Encoder, apply_gain, make_encoder
from .errors import ApiError, from_exception, validation_error
from .jobs import prepare
from .schemas import SpeechOptions
from .service import Service

router = APIRouter()

_NEXT_SENTENCE = "Next"
"""Appended to the buffer to ask the splitter whether its last sentence is over whatever follows."""


def split_complete(buffer: str) -> tuple[str, str]:
    """``(complete sentences, the unfinished rest)`` of ``buffer``: a sentence is complete once a new
    one could start after it (``"Please call Dr. "`` waits for the name; ``"Hi there. "`` does not)."""
    buffer = unicodedata.normalize("NFC", buffer)  # what the splitter's offsets refer to
    *complete, _ = split_sentences(buffer + _NEXT_SENTENCE)
    done = "".join(complete)
    return done, buffer[len(done) :]


class _Session:
    """One socket's options, text buffer and encoder."""

    def __init__(self, ws: WebSocket, service: Service) -> None:
        self.ws, self.service = ws, service
        self.options = SpeechOptions(response_format="pcm")
        self.buffer = ""
        self.encoder: Encoder | None = None

    def configure(self, fields: dict) -> None:
        if self.encoder is not None:
            raise ApiError(400, "config must come before any text", code="late_config")
        self.options = SpeechOptions(**{**self.options.model_dump(exclude_unset=True), **fields})

    async def speak(self, text: str) -> None:
        if not text.strip():
            return
        prepared = prepare(text, self.options, self.service.model, self.service.settings)
        if self.encoder is None:
            self.encoder = make_encoder(
                self.options.response_format, self.service.sample_rate, streaming=True
            )
        pieces, outcome = await self.service.stream(prepared.job)
        words = []
        async for piece in pieces:
            words += timestamps(piece.words)
            audio = apply_gain(piece.audio, prepared.volume)
            await self._send_bytes(await asyncio.to_thread(self.encoder.encode, audio))
        await self.ws.send_json(
            {"type": "segment", "text": text.strip(), "samples": outcome.samples, "words": words}
        )

    async def end(self) -> None:
        await self.speak(self.buffer)
        self.buffer = ""
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
                raise ApiError(
                    400, "a text message needs a string 'text'", param="text", code="invalid_value"
                )
            ready, self.buffer = split_complete(self.buffer + message["text"])
            await self.speak(ready)
        elif kind == "flush":
            text, self.buffer = self.buffer, ""
            await self.speak(text)
        elif kind == "end":
            await self.end()
            return False
        else:
            raise ApiError(
                400, f"unknown message type {kind!r}: use config, text, flush or end", param="type"
            )
        return True

    async def _send_bytes(self, data: bytes) -> None:
        if data:
            await self.ws.send_bytes(data)


@router.websocket("/v1/audio/speech/ws")
async def speech_ws(ws: WebSocket) -> None:
    try:
        check_api_key(ws, ws.app.state.settings.api_key)
        service = ws.app.state.model.require()
    except ApiError as exc:
        await ws.close(code=1008 if exc.status == 401 else 1013, reason=exc.message[:120])
        return
    await ws.accept()
    session = _Session(ws, service)
    try:
        while True:
            try:
                message = await ws.receive_json()
                if not isinstance(message, dict):
                    raise ApiError(400, "messages must be JSON objects", code="invalid_value")
                if not await session.handle(message):
                    break
            except ValidationError as exc:
                await ws.send_json({"type": "error", **validation_error(exc.errors()).body()})
            except (ApiError, KokoroError, ValueError) as exc:
                await ws.send_json({"type": "error", **from_exception(exc).body()})
        await ws.close()
    except WebSocketDisconnect:
        pass
