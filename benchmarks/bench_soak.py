"""Soak (issue 13): does resident memory stay flat over many calls of varying length?

Run from the repo root: ``HF_HUB_OFFLINE=1 pytest benchmarks/bench_soak.py`` (~3-5 min on 2 cores).

ONNX Runtime CPU on the real Kokoro-82M graphs (from the export cache, as the other benchmarks).
:data:`CALLS` texts of 2 to 60 words, drawn with a fixed seed so every run speaks the same ones, are
synthesized one after the other; the process's RSS is read after each. Figures (RSS at start, end,
peak, drift over all calls and over the second half, real-time factor) go to ``extra_info`` and
``benchmarks/results/soak.json``. Nothing asserts a target: a growing second half is what to look for
(ONNX Runtime's arenas used to keep each new peak: +130 MB over 200 calls).
"""

from __future__ import annotations

import os
import random
import time

import pytest

VOICE = "af_heart"
CALLS = 100
SEED = 13
PROSE = (
    "the quick brown fox jumps over a lazy dog while seven wise owls watch quietly from an old oak "
    "tree near the river bank at dusk and a small boat drifts slowly past the mill"
)

_results: dict = {}


def rss_mib() -> float:
    """Resident set size of this process (Linux ``/proc``), in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def soak_texts(calls: int = CALLS, seed: int = SEED) -> list[str]:
    rng, words = random.Random(seed), PROSE.split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(2, 60))) + "." for _ in range(calls)]


@pytest.fixture(scope="module")
def warm_model(real_model):
    real_model.synthesize("A warm-up sentence, so first-run allocations are not counted.", VOICE)
    return real_model


def test_rss_stays_flat_over_varying_lengths(benchmark, warm_model):
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("RSS is read from /proc")
    texts = soak_texts()
    samples: list[float] = []
    audio_samples = 0

    def soak() -> None:
        nonlocal audio_samples
        for text in texts:
            audio_samples += len(warm_model.synthesize(text, VOICE))
            samples.append(rss_mib())

    start = rss_mib()
    started = time.perf_counter()
    benchmark.pedantic(soak, rounds=1, iterations=1)
    elapsed = time.perf_counter() - started
    half = len(samples) // 2
    figures = {
        "backend": warm_model.backend_name,
        "calls": len(texts),
        "rss_start_mib": round(start),
        "rss_end_mib": round(samples[-1]),
        "rss_peak_mib": round(max(samples)),
        "rss_drift_mib": round(samples[-1] - start, 1),
        "rss_drift_second_half_mib": round(samples[-1] - samples[half - 1], 1),
        "rss_every_10_calls_mib": [round(s) for s in samples[9::10]],
        "audio_s": round(audio_samples / warm_model.sample_rate, 1),
        "rtf": round(elapsed / (audio_samples / warm_model.sample_rate), 4),
    }
    _results["onnxruntime_cpu"] = figures
    benchmark.extra_info.update(figures)
