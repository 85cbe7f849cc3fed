"""The nine languages Kokoro-82M v1.0 speaks: canonical codes, accepted names, and voice prefixes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidInputError


@dataclass(frozen=True)
class Language:
    """A canonical language code, Kokoro's one-letter code for it, and its English name."""

    code: str
    letter: str
    name: str
    espeak: str | None = None
    """The espeak-ng voice its G2P uses (upstream ``EspeakG2P``); None for English, ja and zh."""


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en-us", "a", "American English"),
        Language("en-gb", "b", "British English"),
        Language("es", "e", "Spanish", "es"),
        Language("fr", "f", "French", "fr-fr"),
        Language("hi", "h", "Hindi", "hi"),
        Language("it", "i", "Italian", "it"),
        Language("ja", "j", "Japanese"),
        Language("pt-br", "p", "Brazilian Portuguese", "pt-br"),
        Language("zh", "z", "Mandarin Chinese"),
    )
}
"""Canonical code → language, in Kokoro's letter order."""

ENGLISH = frozenset({"en-us", "en-gb"})

_ALIASES = {
    **{lang.letter: lang.code for lang in LANGUAGES.values()},
    **{code: code for code in LANGUAGES},
    "en": "en-us",
    "fr-fr": "fr",
    "pt": "pt-br",
    "es-es": "es",
    "it-it": "it",
    "hi-in": "hi",
    "ja-jp": "ja",
    "zh-cn": "zh",
    "cmn": "zh",
}
"""Every accepted name (lower case, ``_`` read as ``-``) → its canonical code."""

_VOICE = re.compile(r"\s*([a-z])[a-z]_")


def canonical_language(name: str) -> str:
    """The canonical code for ``name``: a canonical code, Kokoro's letter (``e``) or a usual alias
    (``fr-FR``, ``pt``, ``en``), case-insensitive; raises :class:`InvalidInputError` otherwise."""
    code = _ALIASES.get(name.strip().lower().replace("_", "-")) if isinstance(name, str) else None
    if code is None:
        accepted = ", ".join(sorted(_ALIASES))
        raise InvalidInputError(f"unsupported language {name!r:.40}; accepted: {accepted}")
    return code


def voice_language(voice_id: str) -> str | None:
    """The language of a stock voice from its first letter (``ef_dora`` → ``es``); for a blend, its
    first voice's. None when the id does not start like a stock voice (``x?_``) of a known language."""
    m = _VOICE.match(voice_id)
    if m is None:
        return None
    return next((lang.code for lang in LANGUAGES.values() if lang.letter == m[1]), None)
