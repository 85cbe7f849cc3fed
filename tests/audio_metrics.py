"""Audio comparisons for tests: spectra, not samples (the source integrates F0, so phase drifts)."""

from __future__ import annotations

import numpy as np


def log_spectral_distance(a: np.ndarray, b: np.ndarray, n_fft: int = 512, hop: int = 128) -> float:
    """Mean over frames of the RMS difference of the two log power spectra, in dB."""
    assert a.shape == b.shape, (a.shape, b.shape)

    def power(x: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(np.asarray(x, np.float64), n_fft)[::hop]
        return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2 + 1e-10

    diff = 10 * np.log10(power(a) / power(b))
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=-1))))


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest absolute difference relative to the largest expected magnitude."""
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def dnsmos(audio: np.ndarray, sample_rate: int = 24_000) -> dict[str, float]:
    """Microsoft's DNSMOS estimate (PyPI ``speechmos``, offline): ``ovrl``, ``sig``, ``bak`` and ``p808``
    mean opinion scores on a 1–5 scale, from mono float audio resampled to the model's 16 kHz."""
    from speechmos import dnsmos as model

    from tests.asr import resample

    scores = model.run(resample(np.asarray(audio, np.float32), sample_rate, 16_000), sr=16_000)
    return {name.removesuffix("_mos"): float(value) for name, value in scores.items() if name.endswith("_mos")}
