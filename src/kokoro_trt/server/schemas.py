"""Request bodies (pydantic): OpenAI's speech API, Kokoro-FastAPI's additions, and our own controls.

Unknown fields are refused (400 naming the field) rather than ignored, so nothing that would change the
audio is dropped silently.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    field_validator,
)

from .. import text
from ..voices import LIMITS

ResponseFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]

MODELS = ("kokoro", "kokoro-82m", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
"""Model ids accepted in ``model``; they all run the one loaded Kokoro-82M."""

MAX_LEXICON_ENTRIES = 1000


def _limit(name: str) -> dict[str, Any]:
    low, high = LIMITS[name]
    return {"ge": low, "le": high}


def _voice_id(value: object) -> object:
    """OpenAI also sends a voice as ``{"id": "..."}``."""
    return value["id"] if isinstance(value, dict) and set(value) == {"id"} else value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_NORMALIZATION_FIELDS: dict[str, Any] = {
    f.name: (bool, f.default) for f in dataclasses.fields(text.NormalizationOptions)
}
NormalizationOptions = create_model(
    "NormalizationOptions",
    __base__=Strict,
    __doc__="Kokoro-FastAPI's ``normalization_options``, made from the library's dataclass (same fields and "
    "defaults); when the object is sent, the fields it leaves out take those defaults.",
    **_NORMALIZATION_FIELDS,
)


Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phonemes = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SpeechOptions(Strict):
    """How to speak: voice and prosody controls shared by HTTP and WebSocket requests."""

    voice: Annotated[str, BeforeValidator(_voice_id), Field(min_length=1, max_length=512)] = "af_heart"
    response_format: ResponseFormat = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0, description=f"clamped to {LIMITS['speed']}, with a header")
    emotion: str | None = None
    instructions: str | None = Field(None, max_length=4096, description="may name an emotion")
    pitch: float | None = Field(None, description="pitch shift in semitones", **_limit("pitch_shift"))
    pitch_range: float | None = Field(None, **_limit("pitch_range"))
    energy: float | None = Field(None, **_limit("energy"))
    seed: int | None = Field(None, ge=0, lt=2**63)
    lang_code: str | None = None
    volume_multiplier: float = Field(1.0, ge=0.0, le=100.0, description="gain after synthesis, then clipped")
    normalization_options: NormalizationOptions | None = None
    lexicon: dict[Word, Phonemes] = Field(default_factory=dict, max_length=MAX_LEXICON_ENTRIES)


class SpeechBody(SpeechOptions):
    """Fields of every speech route: the model, the text, and Kokoro-FastAPI's download link (refused)."""

    model: str = "kokoro"
    input: str = Field(min_length=1)
    return_download_link: bool = False
    download_format: None = Field(None, description="only meaningful with a download link, which is not offered")

    @field_validator("return_download_link")
    @classmethod
    def _no_links(cls, value: bool) -> bool:
        if value:
            raise ValueError("download links are not offered; the audio is in the response body")
        return value


class SpeechRequest(SpeechBody):
    """``POST /v1/audio/speech``: whole files, chunked audio (``stream`` or ``stream_format: "audio"``) or
    server-sent events (``stream_format: "sse"``, with word timings when ``return_timestamps``)."""

    stream: bool = False
    stream_format: Literal["audio", "sse"] | None = None
    return_timestamps: bool = False


class CaptionedSpeechRequest(SpeechBody):
    """``POST /dev/captioned_speech`` (Kokoro-FastAPI): base64 audio and word timings, as one JSON object
    or (``stream``, the default there) one JSON object per line."""

    stream: bool = True
    return_timestamps: bool = True
