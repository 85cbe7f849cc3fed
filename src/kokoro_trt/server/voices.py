"""Voice names over HTTP: OpenAI names mapped onto Kokoro voices, validation with close matches,
and the catalog served at ``/v1/audio/voices``."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError
from ..text import LANGUAGES, voice_language
from ..voices import DEFAULT_VOICE, parse_blend
from ..voices.suggest import not_found
from .errors import ApiError, clip, quoting

OPENAI_VOICES: dict[str, str] = {
    "alloy": "af_alloy",
    "ash": "am_adam",
    "ballad": "bm_george",
    "coral": "af_heart",
    "echo": "am_echo",
    "fable": "bm_fable",
    "nova": "af_nova",
    "onyx": "am_onyx",
    "sage": "af_sarah",
    "shimmer": "af_bella",
    "verse": "am_michael",
}
"""OpenAI voice → the Kokoro voice closest in sex and character (five share a name with one)."""

BLEND_SYNTAX = "voice_a(0.3)+voice_b(0.7): weights are normalised; 'voice_a+voice_b' mixes equally"


def resolve_voice(model: Any, name: str) -> str:
    """The Kokoro voice spec or character for ``name``; :class:`VoiceNotFoundError` with close matches."""
    name = OPENAI_VOICES.get(name, name)
    if name in model.characters:
        return name
    try:
        blend = parse_blend(name)
    except InvalidInputError as exc:
        raise ApiError(400, quoting(str(exc), name), param="voice", code="invalid_voice") from exc
    known = set(model.voices.names())
    for part in blend.names:
        if part not in known:
            raise not_found("voice", clip(part), [*known, *model.characters, *OPENAI_VOICES])
    return name


def catalog(model: Any) -> dict[str, Any]:
    """Everything a client can put in ``voice`` and ``emotion``."""
    return {
        "default": DEFAULT_VOICE,
        "voices": model.voices.names(),
        "voice_languages": {name: voice_language(name) for name in model.voices.names()},
        "languages": [{"code": lang.code, "letter": lang.letter, "name": lang.name} for lang in LANGUAGES.values()],
        "openai_aliases": OPENAI_VOICES,
        "blend_syntax": BLEND_SYNTAX,
        "characters": [
            {"id": c.name, "voice": c.voice, "description": c.description} for c in model.characters.values()
        ],
        "emotions": [{"id": e.name, "description": e.description} for e in model.emotions.values()],
    }
