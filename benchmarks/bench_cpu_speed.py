"""CPU speed (issue 17, item 2): each decoder candidate against today's, interleaved in one run.

Run from the repo root: ``HF_HUB_OFFLINE=1 pytest benchmarks/bench_cpu_speed.py -s`` (~5 min on 2 cores).

The decoder is 93% of synthesis time on a CPU. One real chunk (~15 s of audio, real weights, af_heart)
goes through the duration and prosody graphs once; then every candidate decoder session renders it,
round after round in turn (A B C … A B C …), so a load spike from elsewhere hits all of them. Figures
are medians of the per-round ratios ``baseline time / candidate time`` (> 1: faster), with the
machine's load average; each candidate's audio is compared with the baseline's (same noise): the
log-spectral distance must stay far below the 1 dB the parity tests allow.

Candidates: ``upstream`` (today's graph: Snake as exported from kokoro, today's session options) is
the baseline; ``folded`` (the exported graph, :mod:`kokoro_trt.export.snake`); ``folded+no-spin``
(intra-op threads sleep instead of spinning between ops); ``folded+daz`` (denormals as zero); and,
where a C compiler is found, ``folded+kernel`` (each Snake block as one ``AdaSnake`` node,
:mod:`kokoro_trt.runtime.snake_graph`) and ``cpu`` (what the CPU runs: ``folded+kernel`` with the
kernel-11 convolutions in the frequency domain, :mod:`kokoro_trt.runtime.cpu_decoder`).
Figures and the candidates that lost: ``docs/performance.md``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from benchmarks.bench_runtime import SENTENCES, VOICE, build_torch_eager
from kokoro_trt.runtime.backends.ort import decoder_feeds
from kokoro_trt.runtime.cpu_decoder import fused_cpu_decoder
from kokoro_trt.runtime.snake_graph import fuse_snakes
from tests.audio_metrics import log_spectral_distance

ROUNDS = int(os.environ.get("KOKORO_TRT_SPEED_ROUNDS", "7"))
THREADS = 2
CHUNK_TEXT = " ".join(SENTENCES[1:3])  # one chunk, ~15 s of audio

_results: dict = {}


def _options(spinning: bool = True, denormal_as_zero: bool = False) -> ort.SessionOptions:
    from kokoro_trt.runtime.backends.ort import session_options

    options = session_options(THREADS, spinning=spinning)
    options.add_session_config_entry("session.set_denormal_as_zero", "1" if denormal_as_zero else "0")
    return options


@pytest.fixture(scope="module")
def upstream_decoder(tmp_path_factory) -> str:
    """Today's decoder graph: the same weights exported with upstream's Snake blocks."""
    from kokoro_trt.export.onnx_export import export_graphs

    out = tmp_path_factory.mktemp("upstream-graphs")
    return str(export_graphs(build_torch_eager(), out, folded_snakes=False)["decoder"])


def chunk_decoder_feeds(model, text: str, voice: str, seed: int = 0) -> dict[str, np.ndarray]:
    """The decoder's inputs for ``text`` as one chunk in one call (not cut into decoder windows), as the
    runtime prepares them, with noise from ``seed``."""
    backend = model.backend
    (chunk,) = model.frontend.chunks(text)
    ids = np.array([[0, *chunk.token_ids, 0]], dtype=np.int64)
    style = model.voices.style(voice, len(chunk.token_ids))
    features = backend.durations(ids, style, 1.0)
    frame_index = np.repeat(np.arange(features.durations.shape[0]), features.durations)
    f0, n = backend.prosody(features, frame_index, style)
    noise = np.random.default_rng(seed).standard_normal((1, frame_index.size * model.samples_per_frame))
    return decoder_feeds(features, frame_index, f0, n, style, noise.astype(np.float32))


@pytest.fixture(scope="module")
def decoder_inputs(real_model) -> dict[str, np.ndarray]:
    return chunk_decoder_feeds(real_model, CHUNK_TEXT, VOICE)


def interleaved(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Each run timed once a round, in turn (A B A B ...), so a load spike hits them all."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def test_decoder_candidates(benchmark, real_graphs, upstream_decoder, decoder_inputs):
    folded = str(real_graphs.path("decoder"))
    sessions = {
        "upstream": ort.InferenceSession(upstream_decoder, _options()),
        "folded": ort.InferenceSession(folded, _options()),
        "folded+no-spin": ort.InferenceSession(folded, _options(spinning=False)),
        "folded+daz": ort.InferenceSession(folded, _options(denormal_as_zero=True)),
    }
    fused = fused_cpu_decoder(real_graphs)
    if fused is not None:  # the shipped CPU decoder, where a C compiler is found
        graph, library = fused
        snakes_only = onnx.load(folded)
        fuse_snakes(snakes_only)
        for name, model in (("folded+kernel", snakes_only.SerializeToString()), ("cpu", str(graph))):
            options = _options()
            options.register_custom_ops_library(str(library))
            sessions[name] = ort.InferenceSession(model, options)
    runs = {name: (lambda s=s: s.run(None, decoder_inputs)[0]) for name, s in sessions.items()}
    audio = {name: run() for name, run in runs.items()}  # warm-up, and the audio to compare
    load_before = os.getloadavg()
    times = benchmark.pedantic(lambda: interleaved(runs, ROUNDS), rounds=1, iterations=1)
    seconds = audio["upstream"].size / 24_000
    figures: dict = {
        "audio_s": round(seconds, 2),
        "rounds": ROUNDS,
        "loadavg": [round(x, 2) for x in (*load_before, *os.getloadavg())],
    }
    for name, data in times.items():
        ratios = [base / t for base, t in zip(times["upstream"], data)]
        figures[name] = {
            "median_s": round(statistics.median(data), 3),
            "rtf": round(statistics.median(data) / seconds, 4),
            "speedup_vs_upstream": round(statistics.median(ratios), 3),
            "lsd_db_vs_upstream": round(log_spectral_distance(audio[name], audio["upstream"]), 4),
        }
    _results["decoder"] = figures
    benchmark.extra_info.update(figures)
    print(figures)
    assert all(figures[name]["lsd_db_vs_upstream"] < 1.0 for name in sessions)
