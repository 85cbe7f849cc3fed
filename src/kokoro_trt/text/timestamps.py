"""Word timings from the duration predictor's per-token frame counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import SAMPLE_RATE
from ..errors import InvalidInputError
from .chunking import Word


@dataclass(frozen=True)
class WordTimestamp:
    """An original word, when it is spoken (seconds from the start of the audio) and what is said
    for it: ``"40–60°C"`` is spoken as ``"forty to sixty degrees Celsius"``."""

    word: str
    start: float
    end: float
    spoken: str = ""


def word_timestamps(
    words: Sequence[Word],
    durations: Sequence[float] | np.ndarray,
    samples_per_frame: int = 600,
    sample_rate: int = SAMPLE_RATE,
    offset_tokens: int = 1,
) -> list[WordTimestamp]:
    """Start and end of each word; ``durations`` are frames per model input token (boundaries included)."""
    frames = np.concatenate([[0.0], np.cumsum(np.asarray(durations, dtype=np.float64))])
    seconds = frames * samples_per_frame / sample_rate
    last = len(durations)
    result = []
    for w in words:
        start, end = w.start_token + offset_tokens, w.end_token + offset_tokens
        if not 0 <= start <= end <= last:
            raise InvalidInputError(f"word {w.text!r} spans tokens {start}..{end}, beyond {last} durations")
        result.append(WordTimestamp(w.text, float(seconds[start]), float(seconds[end]), w.spoken))
    return result
