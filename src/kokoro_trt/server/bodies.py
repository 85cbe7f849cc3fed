"""Response bodies built from synthesised pieces: encoded audio, OpenAI's server-sent events, and
Kokoro-FastAPI's captioned JSON (one object, or one per line when streamed)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from ..text import WordTimestamp
from .encoders import MEDIA_TYPES, apply_gain, encode_all, make_encoder
from .jobs import HEADER_PREFIX, Prepared
from .service import Outcome, Piece, Rendered

FRAME_SAMPLES = 600
"""Samples per model frame (25 ms): the unit of ``output_tokens`` in the SSE usage."""


def timestamps(words: Iterable[WordTimestamp]) -> list[dict[str, Any]]:
    """Word timings as Kokoro-FastAPI sends them (the written word, start and end in seconds), and what
    was spoken for the word."""
    return [
        {"word": w.word, "start_time": round(w.start, 3), "end_time": round(w.end, 3), "spoken": w.spoken}
        for w in words
    ]


def outcome_headers(prepared: Prepared, outcome: Outcome) -> dict[str, str]:
    """Whether the audio cap cut the text, with the written words asked for and spoken."""
    return {
        f"{HEADER_PREFIX}Truncated": str(outcome.truncated).lower(),
        f"{HEADER_PREFIX}Words-Original": str(prepared.job.words),
        f"{HEADER_PREFIX}Words-Kept": str(outcome.words),
    }


def encode_whole(rendered: Rendered, prepared: Prepared, format: str, sample_rate: int) -> bytes:
    return encode_all(format, apply_gain(rendered.audio, prepared.volume), sample_rate)


async def encoded(
    pieces: AsyncIterator[Piece], prepared: Prepared, format: str, sample_rate: int
) -> AsyncIterator[tuple[bytes, tuple[WordTimestamp, ...]]]:
    """Each piece's bytes in one continuous ``format`` stream and its words; the encoder's tail comes
    last, with no words."""
    encoder = make_encoder(format, sample_rate, streaming=True)
    try:
        async for piece in pieces:
            yield (
                await asyncio.to_thread(encoder.encode, apply_gain(piece.audio, prepared.volume)),
                piece.words,
            )
        yield await asyncio.to_thread(encoder.finish), ()
    finally:
        await pieces.aclose()  # type: ignore[attr-defined]


async def audio_body(pieces: AsyncIterator[Piece], prepared: Prepared, format: str, sample_rate: int):
    async for data, _ in encoded(pieces, prepared, format, sample_rate):
        if data:
            yield data


def _event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


async def sse_body(
    pieces: AsyncIterator[Piece],
    outcome: Outcome,
    prepared: Prepared,
    format: str,
    sample_rate: int,
    words: bool,
) -> AsyncIterator[bytes]:
    """OpenAI's speech events: ``speech.audio.delta`` (base64 audio), then ``speech.audio.done`` with the
    usage (input words, output frames of 25 ms) and whether the audio cap cut the text. With ``words``,
    a ``speech.audio.timestamps`` event precedes each piece's audio."""
    async for data, spoken in encoded(pieces, prepared, format, sample_rate):
        if words and spoken:
            yield _event({"type": "speech.audio.timestamps", "words": timestamps(spoken)})
        if data:
            yield _event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})
    frames = -(-outcome.samples // FRAME_SAMPLES)
    usage = {
        "input_tokens": prepared.job.words,
        "output_tokens": frames,
        "total_tokens": prepared.job.words + frames,
    }
    yield _event(
        {
            "type": "speech.audio.done",
            "usage": usage,
            "truncated": outcome.truncated,
            "words_original": prepared.job.words,
            "words_kept": outcome.words,
        }
    )


def captioned(data: bytes, format: str, words: Iterable[WordTimestamp] | None) -> dict[str, Any]:
    """Kokoro-FastAPI's ``CaptionedSpeechResponse``."""
    return {
        "audio": base64.b64encode(data).decode(),
        "audio_format": MEDIA_TYPES[format],
        "timestamps": timestamps(words) if words is not None else None,
    }


async def captioned_lines(
    pieces: AsyncIterator[Piece], prepared: Prepared, format: str, sample_rate: int, words: bool
) -> AsyncIterator[bytes]:
    """One captioned JSON object per line, each with the audio bytes ready so far and their words (words of
    a piece whose audio the encoder still holds move to the next line, as Kokoro-FastAPI does)."""
    pending: list[WordTimestamp] = []
    async for data, spoken in encoded(pieces, prepared, format, sample_rate):
        pending += spoken
        if data:
            line = captioned(data, format, pending if words else None)
            pending = []
            yield _line(line)
    if pending and words:  # the last words, should the encoder's tail be empty
        yield _line(captioned(b"", format, pending))


def _line(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
