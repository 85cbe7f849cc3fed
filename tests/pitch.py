"""A small YIN pitch tracker and loudness helpers for tests that check prosody on the audio itself."""

from __future__ import annotations

import numpy as np


def track_f0(
    audio: np.ndarray,
    sample_rate: int = 24_000,
    fmin: float = 60.0,
    fmax: float = 500.0,
    frame_s: float = 0.04,
    hop_s: float = 0.01,
    threshold: float = 0.15,
    silence_db: float = -35.0,
) -> np.ndarray:
    """F0 (Hz) of each voiced frame of ``audio`` (YIN: cumulative-mean-normalized difference function).

    Frames quieter than ``silence_db`` below the loudest frame, or whose best dip is above
    ``threshold``, are unvoiced and left out; the result holds voiced frames only, in time order.
    """
    x = np.asarray(audio, np.float64)
    frame, hop = int(frame_s * sample_rate), int(hop_s * sample_rate)
    lag_min, lag_max = int(sample_rate / fmax), int(sample_rate / fmin)
    width = frame - lag_max
    if x.shape[0] < frame:
        return np.empty(0)
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop]
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = level > level.max() + silence_db
    f0 = []
    for row in frames[loud]:
        ref = row[:width]
        # d(tau) = sum (x[t] - x[t+tau])^2 over the first `width` samples, for tau in [0, lag_max]
        windows = np.lib.stride_tricks.sliding_window_view(row, width)[: lag_max + 1]
        d = np.sum((windows - ref) ** 2, axis=1)
        cmnd = np.ones_like(d)
        cmnd[1:] = d[1:] * np.arange(1, d.shape[0]) / np.maximum(np.cumsum(d[1:]), 1e-12)
        below = np.nonzero(cmnd[lag_min:] < threshold)[0]
        if below.size == 0:
            continue
        tau = lag_min + below[0]
        while tau + 1 < cmnd.shape[0] and cmnd[tau + 1] < cmnd[tau]:  # walk down to the local minimum
            tau += 1
        if 0 < tau < cmnd.shape[0] - 1:  # parabolic interpolation
            a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
            shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        else:
            shift = 0.0
        f0.append(sample_rate / (tau + shift))
    return np.asarray(f0)


def rms(audio: np.ndarray) -> float:
    """Root-mean-square level of ``audio``."""
    x = np.asarray(audio, np.float64)
    return float(np.sqrt(np.mean(x**2)))


def active_rms(audio: np.ndarray, sample_rate: int = 24_000, frame_s: float = 0.02, silence_db: float = -40.0) -> float:
    """RMS over the frames within ``silence_db`` of the loudest (pauses left out)."""
    x = np.asarray(audio, np.float64)
    frame = int(frame_s * sample_rate)
    power = np.mean(x[: x.shape[0] // frame * frame].reshape(-1, frame) ** 2, axis=1)
    keep = power > power.max() * 10 ** (silence_db / 10)
    return float(np.sqrt(np.mean(power[keep])))
