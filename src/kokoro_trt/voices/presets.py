"""Character and emotion presets from YAML, and their composition into one :class:`Prosody`.

The package ships ``characters.yaml`` and ``emotions.yaml``; ``load_characters(path)`` and
``load_emotions(path)`` merge a user's file of the same shape over them (same name: the user's wins).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..errors import InvalidInputError
from .blend import parse_blend
from .prosody import LIMITS, Prosody
from .suggest import not_found

T = TypeVar("T")


@dataclass(frozen=True)
class Character:
    """A named voice: a voice spec (stock voices or a blend), default prosody and a description."""

    name: str
    voice: str
    prosody: Prosody = field(default_factory=Prosody)
    description: str = ""


@dataclass(frozen=True)
class Emotion:
    """Adjustments to a prosody: ``speed``, ``pitch_range`` and ``energy`` multiply, ``pitch_shift`` adds."""

    name: str
    description: str = ""
    speed: float = 1.0
    pitch_shift: float = 0.0
    pitch_range: float = 1.0
    energy: float = 1.0

    def __post_init__(self) -> None:
        for key in LIMITS:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidInputError(f"{key} must be a finite number, got {value!r}.")
            if key == "pitch_shift":
                low, high = LIMITS[key]
                if not low <= value <= high:
                    raise InvalidInputError(f"pitch_shift={value:g} must be in [{low:g}, {high:g}].")
            elif value <= 0:
                raise InvalidInputError(f"{key}={value:g} is a multiplier and must be above 0.")
            object.__setattr__(self, key, float(value))

    def apply(self, prosody: Prosody) -> Prosody:
        """``prosody`` adjusted by this emotion, each field clamped to its :data:`LIMITS`."""
        values = {
            "speed": prosody.speed * self.speed,
            "pitch_shift": prosody.pitch_shift + self.pitch_shift,
            "pitch_range": prosody.pitch_range * self.pitch_range,
            "energy": prosody.energy * self.energy,
        }
        return Prosody(**{key: min(max(value, LIMITS[key][0]), LIMITS[key][1]) for key, value in values.items()})


def _check_keys(fields: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise InvalidInputError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}.")


def _description(fields: Mapping[str, Any]) -> str:
    description = fields.get("description", "")
    if not isinstance(description, str):
        raise InvalidInputError(f"description must be a string, got {description!r}.")
    return description


def _character(name: str, fields: Mapping[str, Any]) -> Character:
    _check_keys(fields, {"voice", "description", *LIMITS})
    voice = fields.get("voice")
    if not isinstance(voice, str):
        raise InvalidInputError(f"needs a voice spec string under 'voice', got {voice!r}.")
    parse_blend(voice)
    prosody = Prosody(**{key: fields[key] for key in LIMITS if key in fields})
    return Character(name=name, voice=voice, prosody=prosody, description=_description(fields))


def _emotion(name: str, fields: Mapping[str, Any]) -> Emotion:
    _check_keys(fields, {"description", *LIMITS})
    return Emotion(name=name, description=_description(fields), **{key: fields[key] for key in LIMITS if key in fields})


def _parse(text: str, source: str, build: Callable[[str, Mapping[str, Any]], T]) -> dict[str, T]:
    """Entries of a YAML mapping ``name -> fields``; errors name ``source`` and the entry."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{source}: invalid YAML: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{source}: expected a mapping of names to entries, got {type(raw).__name__}.")
    entries: dict[str, T] = {}
    for name, fields in raw.items():
        try:
            if not isinstance(name, str) or not name:
                raise InvalidInputError("names must be non-empty strings.")
            if not isinstance(fields, dict):
                raise InvalidInputError(f"expected a mapping of fields, got {fields!r}.")
            entries[name] = build(name, fields)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{source}: entry {name!r}: {exc}") from exc
    return entries


@cache
def _packaged(file_name: str, build: Callable[[str, Mapping[str, Any]], T]) -> Mapping[str, T]:
    text = resources.files(__package__).joinpath(file_name).read_text(encoding="utf-8")
    return _parse(text, f"kokoro_trt/voices/{file_name}", build)


def _load(file_name: str, build: Callable[[str, Mapping[str, Any]], T], path: str | Path | None) -> dict[str, T]:
    entries = dict(_packaged(file_name, build))
    if path is not None:
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        entries.update(_parse(text, str(path), build))
    return entries


def load_characters(path: str | Path | None = None) -> dict[str, Character]:
    """The packaged characters, with those of the YAML file ``path`` (if given) merged over them."""
    return _load("characters.yaml", _character, path)


def load_emotions(path: str | Path | None = None) -> dict[str, Emotion]:
    """The packaged emotions, with those of the YAML file ``path`` (if given) merged over them."""
    return _load("emotions.yaml", _emotion, path)


def resolve_prosody(
    character: str | Character | None = None,
    emotion: str | Emotion | None = "neutral",
    **explicit: float | None,
) -> Prosody:
    """The prosody to speak with, composed in this order:

    1. the character's defaults (``Prosody()`` when ``character`` is None);
    2. the emotion's adjustments: speed, energy and pitch_range multiply, pitch_shift adds; the result is
       clamped to each field's range;
    3. explicit ``speed``/``pitch_shift``/``pitch_range``/``energy`` arguments that are not None replace
       the result (out of range: :class:`InvalidInputError`).

    Names are looked up in the packaged presets; pass a :class:`Character` or :class:`Emotion` from
    :func:`load_characters`/:func:`load_emotions` to use your own.
    """
    _check_keys(explicit, set(LIMITS))
    if isinstance(character, str):
        characters = load_characters()
        if character not in characters:
            raise not_found("character", character, characters)
        character = characters[character]
    if isinstance(emotion, str):
        emotions = load_emotions()
        if emotion not in emotions:
            raise not_found("emotion", emotion, emotions)
        emotion = emotions[emotion]
    prosody = character.prosody if character is not None else Prosody()
    if emotion is not None:
        prosody = emotion.apply(prosody)
    overrides = {key: value for key, value in explicit.items() if value is not None}
    return Prosody(**{**asdict(prosody), **overrides})
