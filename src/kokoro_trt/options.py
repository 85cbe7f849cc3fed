"""``SynthesisOptions``: every argument that shapes the samples, validated once and passed down.

The library (``speak``, ``stream``, ``synthesize``), the server's jobs and the CLI all build one of these,
so a new control is added in one place. It is frozen and hashable: the server keys its audio cache on
``(text, options)``. Checks that need the loaded model (does the voice exist, is every lexicon phoneme
in the vocabulary) happen in :class:`~kokoro_trt.runtime.KokoroModel`; everything else happens here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .text.lexicon import check_lexicon
from .text.options import NormalizationOptions
from .voices.prosody import check_field

DEFAULT_MAX_SECONDS = 45.0
"""The Vortex contract: no more than 45 s of audio per call."""
MAX_SECONDS = 1e6
"""The largest finite ``max_seconds`` (eleven days of audio); ``None`` is the way to say "no limit"."""
MAX_NAME_CHARS = 256
"""Longest voice, emotion or language name (a blend of eight voices fits many times over)."""


class Lexicon(Mapping[str, str]):
    """A read-only, hashable word → phonemes mapping (a per-call pronunciation dictionary)."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, str]) -> None:
        self._entries = check_lexicon(entries)  # the model checks the symbols against its vocabulary

    def __getitem__(self, word: str) -> str:
        return self._entries[word]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __hash__(self) -> int:
        return hash(frozenset(self._entries.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self._entries == dict(other)

    def __repr__(self) -> str:
        return f"Lexicon({self._entries!r})"


@dataclass(frozen=True)
class SynthesisOptions:
    """How to speak a text; see :meth:`kokoro_trt.KokoroModel.speak` for how the fields compose.

    ``voice``: a stock voice, a blend (``af_sarah(0.3)+af_jessica(0.7)``) or a character.
    ``speed``: tempo multiplier (0.5–2), applied after the character's and the emotion's.
    ``emotion``: a preset name (``kokoro-trt voices`` lists them).
    ``pitch_shift`` (semitones), ``pitch_range`` and ``energy``: replace the character's and emotion's
    values when given. ``seed``: the noise seed (``None``: the fixed default, so output is repeatable).
    ``max_seconds``: audio beyond it is cut at a sentence boundary (``None``: no limit).
    ``lang``: the front-end's language for this call (``None``: the voice's, else the model's).
    ``lexicon``: word → phonemes for this call. ``normalization``: parts of the normaliser to switch off.
    """

    voice: str = "af_heart"
    speed: float = 1.0
    emotion: str = "neutral"
    pitch_shift: float | None = None
    pitch_range: float | None = None
    energy: float | None = None
    seed: int | None = None
    max_seconds: float | None = DEFAULT_MAX_SECONDS
    lang: str | None = None
    lexicon: Mapping[str, str] | None = None
    normalization: NormalizationOptions | None = None

    def __post_init__(self) -> None:
        _check_name("voice", self.voice)
        _check_name("emotion", self.emotion)
        if self.lang is not None:
            _check_name("lang", self.lang)
        self._set("speed", check_field("speed", self.speed))
        for name in ("pitch_shift", "pitch_range", "energy"):
            if getattr(self, name) is not None:
                self._set(name, check_field(name, getattr(self, name)))
        if self.seed is not None:
            self._set("seed", _check_seed(self.seed))
        if self.max_seconds is not None:
            self._set("max_seconds", _check_max_seconds(self.max_seconds))
        if self.lexicon is not None and not isinstance(self.lexicon, Lexicon):
            self._set("lexicon", Lexicon(self.lexicon))
        if self.normalization is not None and not isinstance(self.normalization, NormalizationOptions):
            raise InvalidInputError(
                f"normalization must be NormalizationOptions, got {type(self.normalization).__name__}"
            )

    def replace(self, **overrides: Any) -> SynthesisOptions:
        """A copy with ``overrides`` applied (validated); an unknown name is an :class:`InvalidInputError`."""
        unknown = sorted(set(overrides) - FIELDS)
        if unknown:
            raise InvalidInputError(
                f"unknown synthesis option {unknown[0]!r}; the options are {', '.join(sorted(FIELDS))}"
            )
        return dataclasses.replace(self, **overrides) if overrides else self

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)


FIELDS = frozenset(field.name for field in dataclasses.fields(SynthesisOptions))


def _check_name(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty string, got {_show(value)}")
    if len(value) > MAX_NAME_CHARS:
        raise InvalidInputError(f"{name} is {len(value)} characters long; at most {MAX_NAME_CHARS} are allowed")


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise InvalidInputError(f"seed must be an integer in [0, 2**63), got {_show(seed)}")
    return int(seed)


def _check_max_seconds(seconds: object) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float, np.integer, np.floating)):
        raise InvalidInputError(f"max_seconds must be a number of seconds or None, got {_show(seconds)}")
    if not 0 < seconds <= MAX_SECONDS:  # false for NaN too; no float() that a huge int would overflow
        raise InvalidInputError(f"max_seconds must be in (0, {MAX_SECONDS:g}] (None: no limit), got {_show(seconds)}")
    return float(seconds)


def _show(value: object) -> str:
    """A bad value as the error shows it: its repr, cut short (a client may send megabytes)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
