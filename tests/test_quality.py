"""Perceived quality of real Kokoro-82M speech, estimated offline by DNSMOS (next to the WER tests)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.audio_metrics import dnsmos

pytestmark = pytest.mark.slow

P808_FLOOR = 4.0
"""Measured on PASSAGE with af_heart: P.808 4.33, OVRL 3.52 (am_michael 4.16 / 3.54, bf_emma 4.05 / 3.59);
the same audio with white noise at 5 dB SNR scores 2.6 / 2.1."""
OVRL_FLOOR = 3.3


def test_dnsmos_scores_the_speech_as_clean(real_passage_audio):
    scores = dnsmos(real_passage_audio)
    assert scores["p808"] >= P808_FLOOR and scores["ovrl"] >= OVRL_FLOOR, scores


def test_dnsmos_floor_rejects_degraded_speech(real_passage_audio):
    """The floors are meaningful: the same speech under noise falls below them."""
    rms = np.sqrt(np.mean(real_passage_audio**2))
    noisy = real_passage_audio + np.random.default_rng(0).normal(0, rms / 10 ** (5 / 20), real_passage_audio.shape)
    scores = dnsmos(noisy.astype(np.float32))
    assert scores["p808"] < P808_FLOOR and scores["ovrl"] < OVRL_FLOOR, scores
