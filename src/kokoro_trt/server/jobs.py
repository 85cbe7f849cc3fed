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
from ..options import SynthesisOptions
from ..text import NormalizationOptions, canonical_language, check_lexicon
from ..voices import LIMITS
from ..voices.suggest import not_found
from .errors import ApiError, clip
from .schemas import SpeechOptions
from .settings import Settings
from .voices import resolve_voice

HEADER_PREFIX = "X-Kokoro-"
EXPOSED_HEADERS = tuple(
    f"{HEADER_PREFIX}{name}" for name in ("Truncated", "Words-Original", "Words-Kept", "Speed", "Instructions", "Voice")
)
"""Response headers this server sets (exposed to browsers when CORS is on)."""


@dataclass(frozen=True)
class Job:
    """One synthesis: the text and how to speak it (hashable: the audio cache's key)."""

    text: str
    options: SynthesisOptions

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


def prepare(text: str, options: SpeechOptions, model: Any, settings: Settings, lexicon: Mapping[str, str]) -> Prepared:
    """Validate ``text`` and ``options`` against ``model``; a 400 :class:`ApiError` names the bad field.
    ``lexicon`` is the server's own, which the request's entries extend."""
    _check_text(text, settings.max_input_chars)
    headers: dict[str, str] = {}
    try:
        synthesis = _synthesis_options(options, model, settings, lexicon, headers)
    except InvalidInputError as exc:  # what the body's schema cannot see (a blend's weights...)
        raise ApiError(400, str(exc), code="invalid_value") from exc
    return Prepared(Job(text, synthesis), options.volume_multiplier, headers)


def _synthesis_options(
    options: SpeechOptions,
    model: Any,
    settings: Settings,
    lexicon: Mapping[str, str],
    headers: dict[str, str],
) -> SynthesisOptions:
    """The model's options for this request; clamping and instruction mapping are told in ``headers``."""
    return SynthesisOptions(
        voice=resolve_voice(model, options.voice),
        speed=_speed(options.speed, headers),
        emotion=_emotion(options, model, headers),
        pitch_shift=options.pitch,
        pitch_range=options.pitch_range,
        energy=options.energy,
        seed=options.seed,
        max_seconds=settings.max_audio_seconds,
        lang=_lang(options.lang_code),
        lexicon={**lexicon, **_lexicon(options.lexicon, model)} or None,
        normalization=_normalization(options),
    )


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
    """The language ``lang_code`` names (Kokoro's letters or a usual name), or a 400 naming the field."""
    if lang_code is None:
        return None
    try:
        return canonical_language(lang_code)
    except InvalidInputError as exc:
        raise ApiError(400, str(exc), param="lang_code", code="unsupported_language") from exc


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
    headers[f"{HEADER_PREFIX}Instructions"] = f"emotion={found}" if found else "ignored: names no known emotion"
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
        headers[f"{HEADER_PREFIX}Speed"] = f"{applied:g} (asked {speed:g}; this model speaks {low:g}-{high:g})"
    return applied


def _normalization(options: SpeechOptions) -> NormalizationOptions | None:
    """The ``normalization_options`` fields the client set (the others keep the front-end's defaults)."""
    if options.normalization_options is None:
        return None
    return NormalizationOptions(**options.normalization_options.model_dump(exclude_unset=True))


def _lexicon(lexicon: Mapping[str, str], model: Any) -> dict[str, str]:
    """The request's pronunciations, every phoneme checked against the model's vocabulary."""
    try:
        return check_lexicon(lexicon, model.frontend.vocab)
    except InvalidInputError as exc:
        raise ApiError(400, f"lexicon: {exc}", param="lexicon", code="invalid_value") from exc
