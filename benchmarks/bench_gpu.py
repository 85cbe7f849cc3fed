"""GPU benchmarks (pytest-benchmark): a 45-second script on the selected GPU backend.

Run: ``pytest benchmarks/bench_gpu.py --benchmark-only`` (needs a CUDA GPU; skips otherwise).
Reports P50/P99 over 50 runs, time to the first streamed chunk, VRAM after load, growth during a
call, drift over 100 calls, and the ratio against kokoro's torch eager CUDA path in the same run.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = pytest.mark.gpu

SCRIPT = " ".join(
    [
        "The harbour was quiet when the first boats came back, their decks heavy with the morning's catch.",
        "Gulls circled overhead, calling to one another, while the fishermen tied their lines and shouted",
        "greetings across the water. By noon the market would be full of voices, of bargaining and laughter,",
        "of children running between the stalls. Old Marta, who had sold fish on the same corner for forty",
        "years, watched the boats with a practised eye and guessed, correctly as always, which of them had",
        "done well. Nobody knew how she did it. Some said she read the way the hulls sat in the water;",
        "others said she simply listened to the men's voices carrying over the waves.",
    ]
)


@pytest.fixture(scope="module")
def torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    return torch


@pytest.fixture(scope="module")
def model(torch_cuda):
    from kokoro_trt.runtime import load_kokoro

    before = torch_cuda.cuda.mem_get_info()
    loaded = load_kokoro("cuda")
    after = torch_cuda.cuda.mem_get_info()
    loaded.vram_after_load = before[0] - after[0]
    return loaded


def _used(torch) -> int:
    free, total = torch.cuda.mem_get_info()
    return total - free


def test_45_seconds(benchmark, model, torch_cuda):
    out = torch_cuda.empty(45 * 24000, dtype=torch_cuda.float32, device="cuda")
    model.synthesize(SCRIPT, voice_id="af_heart", output=out)  # warm-up
    base = _used(torch_cuda)
    speech = benchmark.pedantic(lambda: model.synthesize(SCRIPT, voice_id="af_heart", output=out), rounds=50)
    times = np.array(benchmark.stats.stats.data)
    benchmark.extra_info.update(
        backend=model.backend_name,
        audio_seconds=speech.audio.shape[0] / 24000,
        p50_s=float(np.percentile(times, 50)),
        p99_s=float(np.percentile(times, 99)),
        vram_after_load_mib=model.vram_after_load / 2**20,
        vram_growth_during_calls_mib=(_used(torch_cuda) - base) / 2**20,
    )


def test_first_streamed_chunk(benchmark, model):
    def first():
        started = time.perf_counter()
        stream = model.stream(SCRIPT, voice_id="af_heart")
        next(iter(stream))
        return time.perf_counter() - started

    benchmark.pedantic(first, rounds=20, warmup_rounds=2)


def test_drift_over_100_calls(model, torch_cuda):
    out = torch_cuda.empty(45 * 24000, dtype=torch_cuda.float32, device="cuda")
    times, used = [], []
    for _ in range(100):
        started = time.perf_counter()
        model.synthesize(SCRIPT, voice_id="af_heart", output=out)
        times.append(time.perf_counter() - started)
        used.append(_used(torch_cuda))
    first, last = np.median(times[5:25]), np.median(times[-20:])
    print(f"drift: median {first:.3f}s (calls 5-25) -> {last:.3f}s (last 20); VRAM {used[5]} -> {used[-1]} bytes")
    assert last < first * 1.2 and used[-1] == used[5]


def test_ratio_vs_kokoro_torch_eager(model, torch_cuda):
    kokoro = pytest.importorskip("kokoro", reason="needs the export extra for the torch reference")
    pipeline = kokoro.KPipeline(lang_code="a", device="cuda")
    out = torch_cuda.empty(45 * 24000, dtype=torch_cuda.float32, device="cuda")

    def ours() -> float:
        started = time.perf_counter()
        model.synthesize(SCRIPT, voice_id="af_heart", output=out)
        return time.perf_counter() - started

    def theirs() -> float:
        started = time.perf_counter()
        for result in pipeline(SCRIPT, voice="af_heart"):
            result.audio.cpu()
        torch_cuda.cuda.synchronize()
        return time.perf_counter() - started

    ours(), theirs()  # warm-up
    ours_s = np.median([ours() for _ in range(10)])
    theirs_s = np.median([theirs() for _ in range(10)])
    print(f"{model.backend_name}: {ours_s:.3f}s, kokoro torch eager CUDA: {theirs_s:.3f}s, "
          f"speed-up {theirs_s / ours_s:.1f}x")  # fmt: skip
