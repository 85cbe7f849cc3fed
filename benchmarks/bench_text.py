"""Is the English front-end linear in its input? ``pytest benchmarks/bench_text.py``.

Issue #13 found one long word without spaces costing seconds: 16,000 characters took 2.2 s in the
normaliser (the e-mail and URL patterns retried from every position of a run) and 300 characters of
``ab-ab-…`` held the model for minutes in misaki (its compound search is cubic in a word's parts).

Each hostile input is timed through ``TextFrontend.chunks`` (normalise, phonemize, chunk) at
:data:`SHORT` and 4× that many characters, interleaved over :data:`ROUNDS` rounds; the ratio of the
medians is reported (linear: ~4; quadratic: ~16) in ``extra_info`` and ``results/text.json``, next to
ordinary prose as the baseline. A ratio above :data:`MAX_RATIO` fails: that is super-linear growth.
Needs no model; ~1 min on 2 cores.

The English tagger's matrix products on ONNX Runtime (``text/tagger_ops.py``) against thinc's cython-blis:
the benchmark script tagged by both in turn, :data:`TAGGER_ROUNDS` interleaved rounds, the ratio of the
medians reported; MLAS slower than cython-blis fails.
"""

from __future__ import annotations

import statistics
import time

import pytest
from thinc.api import NumpyOps

from benchmarks.bench_runtime import SCRIPT
from kokoro_trt.config import ModelConfig
from kokoro_trt.text import TextFrontend
from kokoro_trt.text.g2p import load_nlp
from kokoro_trt.text.tagger_ops import MlasOps, thinc_models

SHORT = 1_000
ROUNDS = 3
MAX_RATIO = 8.0
TAGGER_ROUNDS = 25
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


def test_tagger_products_on_mlas(benchmark, frontend: TextFrontend) -> None:
    nlp = load_nlp()
    models = thinc_models(nlp)
    if not models:
        pytest.skip("no spaCy tagger installed")
    text = frontend.normalize(SCRIPT).text
    contenders = {"mlas": MlasOps(), "blis": NumpyOps()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    try:
        for _ in range(TAGGER_ROUNDS):
            for name, ops in contenders.items():
                for node in models:
                    node.ops = ops
                start = time.perf_counter()
                nlp(text)
                samples[name].append(time.perf_counter() - start)
    finally:
        for node in models:
            node.ops = contenders["mlas"]
    benchmark.pedantic(nlp, args=(text,), rounds=3, iterations=1)
    mlas, blis = (statistics.median(samples[name]) for name in contenders)
    _results["tagger"] = benchmark.extra_info["figures"] = {
        "characters": len(text),
        "ms_mlas": round(mlas * 1000, 2),
        "ms_blis": round(blis * 1000, 2),
        "speedup": round(blis / mlas, 2),
    }
    assert mlas <= blis, f"the tagger on MLAS took {mlas / blis:.2f}x cython-blis's time"
