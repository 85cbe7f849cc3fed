"""``[pause:1.5s]`` / ``[pause:500ms]`` markup: exact silences between stretches of text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidInputError

MAX_PAUSE_SECONDS = 10.0
_MARKUP = re.compile(r"\[pause:([^\]]*)\]", re.IGNORECASE)
_VALUE = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(ms|s)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Pause:
    """A silence of ``seconds``."""

    seconds: float


def _pause(value: str) -> Pause:
    m = _VALUE.fullmatch(value)
    if m is None:
        raise InvalidInputError(f"bad pause [pause:{value}]: write seconds or milliseconds, e.g. [pause:1.5s]")
    seconds = float(m[1]) / (1000 if m[2].lower() == "ms" else 1)
    if not 0 <= seconds <= MAX_PAUSE_SECONDS:
        raise InvalidInputError(f"pause [pause:{value}] must be between 0 and {MAX_PAUSE_SECONDS:g} s")
    return Pause(seconds)


def split_pauses(text: str) -> list[str | Pause]:
    """``text`` as stretches of text and the pauses between them, in order; blank stretches dropped."""
    parts: list[str | Pause] = []
    pos = 0
    for m in _MARKUP.finditer(text):
        parts += [text[pos : m.start()], _pause(m[1])]
        pos = m.end()
    parts.append(text[pos:])
    return [p for p in parts if isinstance(p, Pause) or p.strip()]
