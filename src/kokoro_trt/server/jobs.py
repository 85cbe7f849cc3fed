"""From a validated request body to a :class:`Job` for the model, plus what the client is told about it.

Everything that depends on the loaded model is checked here (voice, emotion, language, lengths), so a
bad request is refused with a 400 naming its field before any synthesis starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError
from ..text import NormalizationOptions, check_lexicon
from ..voices import LIMITS
from ..voices.suggest import not_found
from .errors import ApiError, clip, shown
from .schemas import LANG_CODES, SpeechOptions
from .settings import Settings
from .voices import resolve_voice

HEADER_PREFIX = "X-Kokoro-"
EXPOSED_HEADERS = tuple(
    f"{HEADER_PREFIX}{name}"
    for name in ("Truncated", "Words-Original", "Words-Kept", "Speed", "Instructions", "Voice")
)
"""Response headers this server sets (exposed to browsers when CORS is on)."""


@dataclass(frozen=True)
class Job:
    """One synthesis: the text and every model argument that shapes the samples (hashable: the cache key).

    ``lexicon`` holds the request's own entries; the server's lexicon is merged in by :meth:`kwargs`.
    """

    text: str
    voice_id: str
    speed: float
    emotion: str
    seed: int | None
    pitch_shift: float | None
    pitch_range: float | None
    energy: float | None
    max_seconds: float | None
    lexicon: tuple[tuple[str, str], ...] = ()
    normalization: tuple[tuple[str, bool], ...] = ()
    lang: str | None = None

    def kwargs(self, base_lexicon: Mapping[str, str]) -> dict[str, Any]:
        """Keyword arguments for ``model.speak`` / ``model.stream`` (after the text)."""
        names = (
            "voice_id",
            "speed",
            "emotion",
            "seed",
            "pitch_shift",
            "pitch_range",
            "energy",
            "max_seconds",
        )
        kwargs: dict[str, Any] = {name: getattr(self, name) for name in names}
        if base_lexicon or self.lexicon:
            kwargs["lexicon"] = {**base_lexicon, **dict(self.lexicon)}
        if self.normalization:
            kwargs["normalization"] = NormalizationOptions(**dict(self.normalization))
        if self.lang:
            kwargs["lang"] = self.lang
        return kwargs

    @property
    def words(self) -> int:
        """Words of the input as written (whitespace-separated), for truncation reports."""
        return len(self.text.split())


@dataclass(frozen=True)
class Prepared:
    """A job and what stays outside it: the gain after synthesis and the headers telling what was done."""

    job: Job
    volume: float = 1.0
    headers: dict[str, str] = field(default_factory=dict)


def prepare(text: str, options: SpeechOptions, model: Any, settings: Settings) -> Prepared:
    """Validate ``text`` and ``options`` against ``model``; a 400 :class:`ApiError` names the bad field."""
    _check_text(text, settings.max_input_chars)
    lang = _lang(options.lang_code)
    headers: dict[str, str] = {}
    emotion = _emotion(options, model, headers)
    speed = _speed(options.speed, headers)
    voice = resolve_voice(model, options.voice)
    job = Job(
        text, voice, speed, emotion, options.seed, options.pitch, options.pitch_range, options.energy,
        settings.max_audio_seconds, _lexicon(options.lexicon, model), _normalization(options), lang,
    )  # fmt: skip
    return Prepared(job, options.volume_multiplier, headers)


def _check_text(text: str, limit: int) -> None:
    if not text.strip():
        raise ApiError(400, "input must contain some text", param="input", code="empty_input")
    if len(text) > limit:
        raise ApiError(
            400,
            f"input is {len(text)} characters; this server's limit is {limit} (setting max_input_chars)",
            param="input",
            code="input_too_long",
        )


def _lang(lang_code: str | None) -> str | None:
    """The English front-end ``lang_code`` names (American or British), or a 400 naming the field."""
    if lang_code is None:
        return None
    lang = LANG_CODES.get(lang_code.lower())
    if lang is None:
        raise ApiError(
            400,
            f"lang_code {shown(lang_code)} is not supported: this server speaks English only "
            f"({', '.join(sorted(LANG_CODES))})",
            param="lang_code",
            code="unsupported_language",
        )
    return lang


def _emotion(options: SpeechOptions, model: Any, headers: dict[str, str]) -> str:
    """``emotion`` if given, else the first of our emotions that ``instructions`` names, else neutral."""
    if options.emotion is not None:
        if options.emotion not in model.emotions:
            exc = not_found("emotion", clip(options.emotion), model.emotions)
            raise ApiError(400, str(exc), param="emotion", code="emotion_not_found")
        if options.instructions:
            headers[f"{HEADER_PREFIX}Instructions"] = "ignored: emotion was given"
        return options.emotion
    if not options.instructions:
        return "neutral"
    found = instructed_emotion(options.instructions, model.emotions)
    headers[f"{HEADER_PREFIX}Instructions"] = (
        f"emotion={found}" if found else "ignored: names no known emotion"
    )
    return found or "neutral"


def instructed_emotion(instructions: str, emotions: Mapping[str, Any]) -> str | None:
    """The emotion named earliest in ``instructions`` (a whole word, any case), if any."""
    found = ((re.search(rf"\b{re.escape(name)}\b", instructions, re.IGNORECASE), name) for name in emotions)
    hits = [(match.start(), name) for match, name in found if match]
    return min(hits)[1] if hits else None


def _speed(speed: float, headers: dict[str, str]) -> float:
    """OpenAI's 0.25–4 range clamped to what the model does (durations scaled, no time stretching)."""
    low, high = LIMITS["speed"]
    applied = min(max(speed, low), high)
    if applied != speed:
        headers[f"{HEADER_PREFIX}Speed"] = (
            f"{applied:g} (asked {speed:g}; this model speaks {low:g}-{high:g})"
        )
    return applied


def _normalization(options: SpeechOptions) -> tuple[tuple[str, bool], ...]:
    """The ``normalization_options`` fields the client set (the others keep the front-end's defaults)."""
    if options.normalization_options is None:
        return ()
    return tuple(sorted(options.normalization_options.model_dump(exclude_unset=True).items()))


def _lexicon(lexicon: Mapping[str, str], model: Any) -> tuple[tuple[str, str], ...]:
    """The request's pronunciations, every phoneme checked against the model's vocabulary."""
    try:
        return tuple(sorted(check_lexicon(lexicon, model.frontend.vocab).items()))
    except InvalidInputError as exc:
        raise ApiError(400, f"lexicon: {exc}", param="lexicon", code="invalid_value") from exc
