"""Request bodies (pydantic) for the OpenAI-compatible speech API, plus our own controls."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..voices import LIMITS

ResponseFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]

MODELS = ("kokoro", "kokoro-82m", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
"""Model ids accepted in ``model``; they all run the one loaded Kokoro-82M."""


def _limit(name: str) -> dict[str, float]:
    low, high = LIMITS[name]
    return {"ge": low, "le": high}


class SpeechOptions(BaseModel):
    """How to speak: voice and prosody controls shared by HTTP and WebSocket requests."""

    model_config = ConfigDict(extra="ignore")

    voice: str = Field("af_heart", min_length=1, max_length=512)
    response_format: ResponseFormat = "mp3"
    speed: float = Field(1.0, **_limit("speed"))
    emotion: str = "neutral"
    pitch: float | None = Field(None, description="pitch shift in semitones", **_limit("pitch_shift"))
    pitch_range: float | None = Field(None, **_limit("pitch_range"))
    energy: float | None = Field(None, **_limit("energy"))
    seed: int | None = Field(None, ge=0, lt=2**63)


class SpeechRequest(SpeechOptions):
    """``POST /v1/audio/speech``: the OpenAI body (``model``, ``input``, ``voice``, ``response_format``,
    ``speed``; ``instructions`` is accepted and ignored) plus ``emotion``, ``pitch``, ``pitch_range``,
    ``energy``, ``seed`` and ``stream``."""

    model: str = "kokoro"
    input: str = Field(min_length=1)
    instructions: str | None = None
    stream: bool = False
    stream_format: Literal["audio"] | None = None
