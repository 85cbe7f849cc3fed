"""GPU benchmarks (pytest-benchmark): the 45-second script of ``bench_runtime.py`` on the GPU backend.

Run: ``pytest benchmarks/bench_gpu.py`` (needs a CUDA GPU and torch with CUDA; skips otherwise), or
``python benchmarks/gpu_run.py``, which also builds the engines first. Reports P50/P99, the first
streamed chunk, this process's VRAM after load and its growth over 100 calls, and the speed ratio
against kokoro's torch eager CUDA path built from the same weights in the same run.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from benchmarks.bench_runtime import SCRIPT, VOICE, build_torch_eager, torch_synthesize

pytestmark = pytest.mark.gpu

_results: dict = {}


def process_vram_bytes() -> int | None:
    """Device memory held by this process (NVML); ``None`` where NVML cannot see it (no driver, or a
    container whose PIDs differ from the host's)."""
    try:
        import pynvml
    except ImportError:
        return None
    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        for process in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
            if process.pid == os.getpid():
                return int(process.usedGpuMemory or 0)
        return None
    finally:
        pynvml.nvmlShutdown()


@pytest.fixture(scope="module")
def torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    return torch


@pytest.fixture(scope="module")
def model(torch_cuda, real_graphs, voices_dir):
    from kokoro_trt.runtime import load_kokoro

    before = process_vram_bytes() or 0
    loaded = load_kokoro("cuda", graphs=real_graphs.directory, voices_dir=voices_dir)
    after = process_vram_bytes()
    _results["vram_after_load_mib"] = None if after is None else round((after - before) / 2**20, 1)
    return loaded


def test_45_seconds(benchmark, model, torch_cuda):
    out = torch_cuda.empty(45 * 24000, dtype=torch_cuda.float32, device="cuda")
    model.synthesize(SCRIPT, VOICE, output=out, max_seconds=None)  # warm-up (and RTX's JIT kernels)
    audio = benchmark.pedantic(lambda: model.synthesize(SCRIPT, VOICE, output=out, max_seconds=None), rounds=50)
    times = np.array(benchmark.stats.stats.data)
    _results["latency"] = {
        "backend": model.backend_name,
        "audio_s": round(audio.shape[0] / 24000, 3),
        "p50_s": round(float(np.percentile(times, 50)), 4),
        "p99_s": round(float(np.percentile(times, 99)), 4),
    }
    benchmark.extra_info.update(_results["latency"])


def test_first_streamed_chunk(benchmark, model):
    def first() -> float:
        started = time.perf_counter()
        next(iter(model.stream(SCRIPT, VOICE)))
        return time.perf_counter() - started

    benchmark.pedantic(first, rounds=20, warmup_rounds=2)
    _results["first_chunk_p50_s"] = round(float(np.percentile(benchmark.stats.stats.data, 50)), 4)


def test_no_drift_or_growth_over_100_calls(model, torch_cuda):
    out = torch_cuda.empty(45 * 24000, dtype=torch_cuda.float32, device="cuda")
    times, used = [], []
    for _ in range(100):
        started = time.perf_counter()
        model.synthesize(SCRIPT, VOICE, output=out, max_seconds=None)
        times.append(time.perf_counter() - started)
        used.append(process_vram_bytes())
    first, last = float(np.median(times[5:25])), float(np.median(times[-20:]))
    _results["drift"] = {"median_calls_5_25_s": round(first, 4), "median_last_20_s": round(last, 4)}
    assert last < first * 1.2
    if used[5] is not None:
        _results["drift"]["vram_growth_mib"] = round((used[-1] - used[5]) / 2**20, 1)
        assert used[-1] == used[5]


def test_ratio_vs_kokoro_torch_eager_cuda(model, torch_cuda):
    kmodel = build_torch_eager().to("cuda")
    out = torch_cuda.empty(45 * 24000, dtype=torch_cuda.float32, device="cuda")

    def ours() -> float:
        started = time.perf_counter()
        model.synthesize(SCRIPT, VOICE, output=out, max_seconds=None)
        torch_cuda.cuda.synchronize()
        return time.perf_counter() - started

    def theirs() -> float:
        started = time.perf_counter()
        torch_synthesize(kmodel, model.frontend, model.voices, SCRIPT, device="cuda")
        torch_cuda.cuda.synchronize()
        return time.perf_counter() - started

    ours(), theirs()  # warm-up
    ours_s, theirs_s = (
        float(np.median([ours() for _ in range(10)])),
        float(np.median([theirs() for _ in range(10)])),
    )
    _results["vs_torch_eager_cuda"] = {
        "ours_s": round(ours_s, 4),
        "torch_eager_s": round(theirs_s, 4),
        "speedup": round(theirs_s / ours_s, 2),
    }
