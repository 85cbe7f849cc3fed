"""Voice specs: one voice or a weighted blend, e.g. ``af_sarah(0.3)+af_jessica(0.7)``.

Grammar (whitespace around tokens is ignored)::

    spec   := part ("+" part)*
    part   := name ["(" weight ")"]
    name   := [A-Za-z0-9_-]{1,64}
    weight := a finite number; a part without one weighs 1

Weights are normalised to sum to 1, so ``a+b`` is an equal blend. A single weight may be negative
(extrapolating away from that voice) as long as the total is positive. Repeated names add up.

Limits keep a spec from reaching the audio as noise or NaN: at most :data:`MAX_PARTS` parts, a
finite positive total, and normalised weights within ±:data:`MAX_WEIGHT` (``a(1e308)+b(1e308)``
overflows the total; ``a(1e9)+b(-1e9+1)`` sums to 1 but scales a style a billion times).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import InvalidInputError

SYNTAX = (
    "Voice spec syntax: NAME, NAME+NAME (equal blend) or NAME(WEIGHT)+NAME(WEIGHT), "
    "e.g. 'af_sarah(0.3)+af_jessica(0.7)'; weights are numbers with a positive total."
)

MAX_PARTS = 8
MAX_NAME_LENGTH = 64
MAX_WEIGHT = 10.0

_PART = re.compile(r"\s*(?P<name>[A-Za-z0-9_\-]+)\s*(?:\(\s*(?P<weight>[^()]*?)\s*\))?\s*")


@dataclass(frozen=True)
class Blend:
    """A normalised voice blend: ``(name, weight)`` pairs sorted by name, weights summing to 1."""

    parts: tuple[tuple[str, float], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.parts)

    def __str__(self) -> str:
        if len(self.parts) == 1:
            return self.parts[0][0]
        return "+".join(f"{name}({weight:g})" for name, weight in self.parts)


def _weight(text: str | None, part: str, spec: str) -> float:
    if text is None:
        return 1.0
    try:
        weight = float(text)
    except ValueError:
        raise InvalidInputError(f"Bad weight {text!r} in {part!r} of voice spec {spec!r}. {SYNTAX}") from None
    if not math.isfinite(weight):
        raise InvalidInputError(f"Weight {text!r} in voice spec {spec!r} is not finite. {SYNTAX}")
    return weight


def _name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"Voice name {name[:20]}... is {len(name)} characters long; names have at most {MAX_NAME_LENGTH}. {SYNTAX}"
        )
    return name


def parse_blend(spec: str) -> Blend:
    """Parse a voice spec into a normalised :class:`Blend`; :class:`InvalidInputError` when malformed."""
    if not isinstance(spec, str):
        raise InvalidInputError(f"A voice spec must be a string, got {type(spec).__name__}. {SYNTAX}")
    parts = spec.split("+")
    if len(parts) > MAX_PARTS:
        raise InvalidInputError(f"Voice spec has {len(parts)} parts; a blend has at most {MAX_PARTS}. {SYNTAX}")
    weights: dict[str, float] = {}
    for part in parts:
        match = _PART.fullmatch(part)
        if match is None:
            what = "an empty part" if not part.strip() else f"malformed part {part.strip()!r}"
            raise InvalidInputError(f"Voice spec {spec!r} has {what}. {SYNTAX}")
        name = _name(match["name"])
        weights[name] = weights.get(name, 0.0) + _weight(match["weight"], part.strip(), spec)
    total = sum(weights.values())
    if not math.isfinite(total) or not all(map(math.isfinite, weights.values())):
        raise InvalidInputError(f"The weights in voice spec {spec!r} do not add up to a finite number. {SYNTAX}")
    if total <= 0:
        raise InvalidInputError(f"The weights in voice spec {spec!r} sum to {total:g}; they must sum above 0. {SYNTAX}")
    normalised = {name: weight / total for name, weight in weights.items()}
    extreme = max(normalised, key=lambda name: abs(normalised[name]))
    if abs(normalised[extreme]) > MAX_WEIGHT:
        raise InvalidInputError(
            f"In voice spec {spec!r}, {extreme} weighs {normalised[extreme]:g} of the total; each voice may "
            f"weigh at most {MAX_WEIGHT:g} times the total. {SYNTAX}"
        )
    return Blend(tuple((name, normalised[name]) for name in sorted(normalised)))
