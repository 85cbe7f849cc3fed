"""Runtime benchmarks (issue 3): ONNX Runtime CPU against the ``kokoro`` torch eager path.

Run from the repo root: ``HF_HUB_OFFLINE=1 pytest benchmarks/bench_runtime.py`` (~6-9 min on 2 cores).

Both paths use the same Kokoro-82M v1.0 weights (the offline INT8 export), the same text front-end
chunks and the same af_heart style rows; torch runs with 2 threads under ``no_grad``. Figures go to
``extra_info`` and to ``benchmarks/results/`` (``runtime.json``, ``latency_vs_length.png``; not
committed). Rounds are few (each is tens of seconds here), so "P99" over 3 rounds is the maximum.
Nothing here asserts a timing target: targets are reported as met or not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

RESULTS_DIR = Path(__file__).resolve().parent / "results"
VOICE = "af_heart"
ROUNDS = 3
SPEEDUP_TARGET = 3.0  # ORT CPU vs torch eager, 2 cores
FIRST_CHUNK_TARGET_S = 0.5
TORCH_THREADS = 2

SENTENCES = (
    "Good morning, and welcome to the quarterly update from the research team.",
    "Over the last three months we rebuilt the speech engine from the ground up, and the results are encouraging.",
    "Short replies now begin playing almost instantly, even on a modest laptop without a graphics card.",
    "Long documents, such as news articles or book chapters, are read aloud with steady pacing and natural pauses.",
    (
        "We also added several new voices, improved how numbers and dates are spoken, and fixed a handful of "
        "pronunciation mistakes that listeners reported."
    ),
    (
        "Next quarter, we plan to focus on expressive reading, better handling of names, and lower memory use on "
        "small devices."
    ),
    "Thank you for listening.",
)
SCRIPT = " ".join(SENTENCES)  # 112 words, ~44 s of audio
# Scripts of about 5, 15, 25, 35 and 45 s of audio (the measured audio length is what gets plotted).
LENGTH_SCRIPTS = {
    5: " ".join(SENTENCES[0:1]),
    15: " ".join(SENTENCES[2:4]),
    25: " ".join(SENTENCES[0:4]),
    35: " ".join(SENTENCES[0:5]),
    45: SCRIPT,
}

_results: dict = {}


# -- the two paths ----------------------------------------------------------------------------------


def build_torch_eager():
    import torch

    from kokoro_trt.assets import resolve_weights
    from kokoro_trt.config import ModelConfig
    from kokoro_trt.export.kmodel import build_kmodel
    from kokoro_trt.export.pipeline import load_state_dict

    torch.set_num_threads(TORCH_THREADS)
    config = ModelConfig.default()
    return build_kmodel(config, load_state_dict(resolve_weights(local_files_only=True), config))


def torch_synthesize(kmodel, frontend, voices, text: str, device: str = "cpu") -> np.ndarray:
    """The baseline: ``KModel`` per chunk, style row ``len(phonemes) - 1``, as kokoro's pipeline does."""
    import torch

    pieces = []
    with torch.no_grad():
        for chunk in frontend.chunks(text):
            ref_s = torch.from_numpy(np.array(voices.style(VOICE, len(chunk.phonemes)))).to(device)
            pieces.append(kmodel(chunk.phonemes, ref_s=ref_s, speed=1).cpu().numpy())
    return np.concatenate(pieces)


def _stats(data: list[float], audio_seconds: float) -> dict:
    p50 = float(np.percentile(data, 50))
    return {
        "rounds": len(data),
        "latency_s": [round(x, 4) for x in data],
        "p50_s": round(p50, 4),
        "p99_s": round(float(np.percentile(data, 99)), 4),  # with 3 rounds: ~the maximum
        "audio_s": round(audio_seconds, 3),
        "rtf_p50": round(p50 / audio_seconds, 4),
    }


def _record(benchmark, key: str, figures: dict) -> None:
    _results[key] = figures
    benchmark.extra_info.update(figures)


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ort_model(real_model):
    real_model.synthesize(SENTENCES[0], VOICE)  # warm-up: session first-run allocations, G2P caches
    return real_model


@pytest.fixture(scope="module")
def torch_eager(real_model):
    kmodel = build_torch_eager()
    torch_synthesize(kmodel, real_model.frontend, real_model.voices, SENTENCES[0])  # warm-up
    return kmodel


# -- benchmarks ---------------------------------------------------------------------------------------


def test_script_is_about_45_seconds(ort_model):
    assert 110 <= len(SCRIPT.split()) <= 120
    seconds = len(ort_model.synthesize(SCRIPT, VOICE)) / ort_model.sample_rate
    assert 40.0 <= seconds <= 45.0, seconds
    _results["script"] = {"words": len(SCRIPT.split()), "audio_s": round(seconds, 3)}


def test_latency_onnxruntime_cpu(benchmark, ort_model):
    audio = benchmark.pedantic(lambda: ort_model.synthesize(SCRIPT, VOICE), rounds=ROUNDS, iterations=1)
    seconds = len(audio) / ort_model.sample_rate
    _record(
        benchmark,
        "onnxruntime_cpu",
        _stats(benchmark.stats.stats.data, seconds)
        | {"backend": ort_model.backend_name, "threads": getattr(ort_model.backend, "threads", None)},
    )


def test_latency_torch_eager(benchmark, ort_model, torch_eager):
    import torch

    run = lambda: torch_synthesize(torch_eager, ort_model.frontend, ort_model.voices, SCRIPT)
    audio = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    figures = _stats(benchmark.stats.stats.data, len(audio) / ort_model.sample_rate) | {
        "threads": torch.get_num_threads()
    }
    ort = _results.get("onnxruntime_cpu")
    if ort is not None:  # the ratio only means something within one run
        speedup = figures["p50_s"] / ort["p50_s"]
        figures |= {
            "speedup_ort_vs_torch_p50": round(speedup, 3),
            "speedup_target": SPEEDUP_TARGET,
            "speedup_target_met": speedup >= SPEEDUP_TARGET,
        }
    _record(benchmark, "torch_eager", figures)


def test_first_streamed_chunk(benchmark, ort_model):
    chunk_seconds = []

    def first_chunk() -> float:
        start = time.perf_counter()
        stream = ort_model.stream(SCRIPT, VOICE)
        chunk = next(stream)
        elapsed = time.perf_counter() - start
        stream.close()
        chunk_seconds.append(len(chunk.audio) / ort_model.sample_rate)
        return elapsed

    benchmark.pedantic(first_chunk, rounds=5, iterations=1)
    data = benchmark.stats.stats.data
    p50 = float(np.percentile(data, 50))
    _record(
        benchmark,
        "first_streamed_chunk",
        {
            "rounds": len(data),
            "latency_s": [round(x, 4) for x in data],
            "p50_s": round(p50, 4),
            "max_s": round(max(data), 4),
            "first_chunk_audio_s": round(chunk_seconds[-1], 3),
            "target_s": FIRST_CHUNK_TARGET_S,
            "target_met": p50 <= FIRST_CHUNK_TARGET_S,
        },
    )


@pytest.mark.parametrize("target", [5, 15, 25, 35, 45])
def test_latency_vs_length(benchmark, ort_model, target):
    """ONNX Runtime CPU, one round per length; 45 s reuses the P50 measured above when it ran."""
    if target == 45 and "onnxruntime_cpu" in _results:
        ort = _results["onnxruntime_cpu"]
        benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # keep the row; the figure is reused
        latency, audio_s = ort["p50_s"], ort["audio_s"]
    else:
        audio = benchmark.pedantic(lambda: ort_model.synthesize(LENGTH_SCRIPTS[target], VOICE), rounds=1, iterations=1)
        latency, audio_s = benchmark.stats.stats.data[0], len(audio) / ort_model.sample_rate
    figures = {
        "target_s": target,
        "audio_s": round(audio_s, 3),
        "latency_s": round(latency, 4),
        "rtf": round(latency / audio_s, 4),
    }
    _results.setdefault("latency_vs_length", []).append(figures)
    benchmark.extra_info.update(figures)


def test_plot_latency_vs_length():
    rows = _results.get("latency_vs_length")
    if not rows:
        pytest.skip("latency_vs_length did not run")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["audio_s"])
    x, y = [r["audio_s"] for r in rows], [r["latency_s"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(x, y, "o-", label="ONNX Runtime CPU")
    if "torch_eager" in _results:
        t = _results["torch_eager"]
        ax.plot([t["audio_s"]], [t["p50_s"]], "s", label="torch eager (45 s script, P50)")
    ax.plot([0, max(x)], [0, max(x)], ":", color="grey", label="real time (RTF 1)")
    ax.set_xlabel("audio length (s)")
    ax.set_ylabel("synthesis latency (s)")
    ax.set_title(f"Kokoro-82M latency vs script length ({os.cpu_count()} CPU cores)")
    ax.legend()
    fig.tight_layout()
    RESULTS_DIR.mkdir(exist_ok=True)
    fig.savefig(RESULTS_DIR / "latency_vs_length.png", dpi=120)
    plt.close(fig)


@pytest.mark.parametrize("path", ["onnxruntime_cpu", "torch_eager"])
def test_peak_rss(benchmark, real_graphs, voices_dir, path):
    """Peak RSS of a fresh process that loads one path and synthesises the script once."""
    cmd = [sys.executable, __file__, "--rss", path, str(real_graphs.directory), str(voices_dir)]
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    out = benchmark.pedantic(
        lambda: subprocess.run(cmd, env=env, check=True, capture_output=True, text=True), rounds=1, iterations=1
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    _results.setdefault("peak_rss", {})[path] = figures
    if len(_results["peak_rss"]) == 2:
        r = _results["peak_rss"]
        ratio = r["torch_eager"]["peak_rss_mb"] / r["onnxruntime_cpu"]["peak_rss_mb"]
        figures["rss_ratio_torch_over_ort"] = round(ratio, 3)
    benchmark.extra_info.update(figures)


# -- the peak-RSS worker (run as a subprocess by test_peak_rss) --------------------------------------


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_worker(path: str, graphs: str, voices_dir: str) -> dict:
    if path == "onnxruntime_cpu":
        from kokoro_trt.runtime import load_kokoro

        model = load_kokoro("cpu", graphs=graphs, voices_dir=voices_dir)
        synthesize = lambda: model.synthesize(SCRIPT, VOICE)
    else:
        from kokoro_trt.config import ModelConfig
        from kokoro_trt.text.frontend import TextFrontend
        from kokoro_trt.voices.store import VoiceStore

        frontend = TextFrontend(ModelConfig.default().vocab, lang="en-us").load()
        voices = VoiceStore(voices_dir)
        kmodel = build_torch_eager()
        synthesize = lambda: torch_synthesize(kmodel, frontend, voices, SCRIPT)
    loaded = _vm_hwm_mb()
    start = time.perf_counter()
    audio = synthesize()
    elapsed = time.perf_counter() - start
    return {
        "path": path,
        "peak_rss_after_load_mb": round(loaded, 1),
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec, so a child reports the
        # pytest parent's peak whenever that is higher.
        "peak_rss_mb": round(_vm_hwm_mb(), 1),
        "torch_imported": "torch" in sys.modules,
        "cold_latency_s": round(elapsed, 3),
        "audio_s": round(len(audio) / 24000, 3),
    }


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--rss":
    print(json.dumps(_rss_worker(*sys.argv[2:])))
