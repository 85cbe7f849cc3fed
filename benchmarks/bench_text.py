"""Is the English front-end linear in its input? ``pytest benchmarks/bench_text.py``.

Issue #13 found one long word without spaces costing seconds: 16,000 characters took 2.2 s in the
normaliser (the e-mail and URL patterns retried from every position of a run) and 300 characters of
``ab-ab-…`` held the model for minutes in misaki (its compound search is cubic in a word's parts).

Each hostile input is timed through ``TextFrontend.chunks`` (normalise, phonemize, chunk) at
:data:`SHORT` and 4× that many characters, interleaved over :data:`ROUNDS` rounds; the ratio of the
medians is reported (linear: ~4; quadratic: ~16) in ``extra_info`` and ``results/text.json``, next to
ordinary prose as the baseline. A ratio above :data:`MAX_RATIO` fails: that is super-linear growth.
Needs no model; ~1 min on 2 cores.
"""

from __future__ import annotations

import statistics
import time

import pytest

from kokoro_trt.config import ModelConfig
from kokoro_trt.text import TextFrontend

SHORT = 1_000
ROUNDS = 3
MAX_RATIO = 8.0
INPUTS = {  # name -> the unit repeated to length
    "prose": "The quick brown fox jumps over the lazy dog. ",
    "letters": "a",
    "digits_and_letters": "a1",
    "dots": "a.",
    "hyphens": "ab-",
    "camel_case": "aB",
    "at_signs": "x@",
}

_results: dict = {}


@pytest.fixture(scope="module")
def frontend() -> TextFrontend:
    return TextFrontend(ModelConfig.default().vocab, "en-us").load()


def _seconds(frontend: TextFrontend, text: str) -> float:
    start = time.perf_counter()
    frontend.chunks(text)
    return time.perf_counter() - start


@pytest.mark.parametrize("name", INPUTS)
def test_front_end_time_grows_linearly(benchmark, frontend: TextFrontend, name: str) -> None:
    unit = INPUTS[name]
    texts = [unit * (chars // len(unit)) for chars in (SHORT, 4 * SHORT)]
    samples: list[list[float]] = [[], []]
    for _ in range(ROUNDS):
        for i, text in enumerate(texts):
            samples[i].append(_seconds(frontend, text))
    benchmark.pedantic(frontend.chunks, args=(texts[1],), rounds=1, iterations=1)
    short, long = (statistics.median(s) for s in samples)
    ratio = long / short
    _results[name] = benchmark.extra_info["figures"] = {
        "seconds_short": round(short, 4),
        "seconds_long": round(long, 4),
        "ratio_4x_input": round(ratio, 2),
    }
    assert ratio <= MAX_RATIO, f"{name}: 4x the input took {ratio:.1f}x the time"
