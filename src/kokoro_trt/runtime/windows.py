"""Decoder windows (opt-in): a long chunk rendered in several decoder calls, cut where the model is quiet.

The decoder's working memory grows with the frames of one call (a 24 s chunk holds ~460 MB on the CPU),
so ``load_kokoro(decode_window_seconds=6)`` caps it (~160 MB). Durations and prosody still come from one
pass over the whole chunk; only the rendering is split, at the frame of least predicted energy in the
second half of each window: a pause between sentences or clauses where there is one, so the join lies
in silence (the noise is read by sample position, so it runs on across a join). It is not the default:
the decoder's instance norms then see one window instead of the chunk, which moves each window's level
by up to ±0.6 dB and cost 0.06-0.09 DNSMOS P.808 on a 23 s passage (3 seeds; see docs/performance.md).
"""

from __future__ import annotations

import math

import numpy as np

from ..config import SAMPLE_RATE
from ..errors import InvalidInputError

MIN_WINDOW_SECONDS = 1.0


def window_frames(seconds: float | None, samples_per_frame: int) -> int | None:
    """``decode_window_seconds`` in frames (``None``: each chunk in one decoder call)."""
    if seconds is None:
        return None
    valid = isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and math.isfinite(seconds)
    if not valid or seconds < MIN_WINDOW_SECONDS:
        raise InvalidInputError(f"decode_window_seconds must be a number ≥ {MIN_WINDOW_SECONDS:g}, got {seconds!r}")
    return int(seconds * SAMPLE_RATE) // samples_per_frame


def decode_windows(energy: np.ndarray, limit: int | None) -> list[tuple[int, int]]:
    """``[start, stop)`` frame ranges covering all of ``energy`` (one value per frame, the prosody
    stage's ``N``), none longer than ``limit`` frames (``None``: one window). Each cut but the last
    is at the quietest frame of the second half of its window."""
    frames = int(energy.shape[0])
    if limit is not None and limit < 2:
        raise ValueError(f"a decoder window needs at least 2 frames, got {limit}")
    windows: list[tuple[int, int]] = []
    start = 0
    while limit is not None and frames - start > limit:
        earliest = start + limit // 2
        stop = earliest + int(np.argmin(energy[earliest : start + limit + 1]))
        windows.append((start, stop))
        start = stop
    windows.append((start, frames))
    return windows


def frame_energy(n: np.ndarray) -> np.ndarray:
    """The prosody stage's ``N`` ([1, 2 × frames], two values a frame) as one value a frame: the louder half."""
    return n.reshape(-1, 2).max(axis=1)
