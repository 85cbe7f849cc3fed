"""Server latency and throughput on 127.0.0.1: ``pytest benchmarks/bench_server.py``.

Uses the graphs in ``$KOKORO_TRT_BENCH_GRAPHS`` (e.g. a real export) or else exports the tiny
random-weight test model; voices from ``$KOKORO_TRT_SHARED/voices`` (default ``../shared/voices``).
The audio cache is off so every request synthesises.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
from kokoro_trt.server import Settings, create_app
from tests.server_fixtures import STAGE_NAMES, live_server

TEXT = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April, and the clocks were striking."
CLIENTS, REQUESTS_EACH = 4, 3


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    from kokoro_trt.runtime import load_kokoro

    graphs = os.environ.get("KOKORO_TRT_BENCH_GRAPHS")
    if graphs is None:
        pytest.importorskip("torch")
        from kokoro_trt.export.onnx_export import export_graphs
        from kokoro_trt.graphs import MANIFEST_NAME
        from tests.tiny_model import tiny_kmodel

        graphs = tmp_path_factory.mktemp("bench-graphs")
        export_graphs(tiny_kmodel(), graphs)
        manifest = {"samples_per_frame": 600, "graphs": {n: {"file": f"{n}.onnx"} for n in STAGE_NAMES}}
        (graphs / MANIFEST_NAME).write_text(json.dumps(manifest))
    voices = Path(os.environ.get("KOKORO_TRT_SHARED", ROOT.parent / "shared")) / "voices"
    model = load_kokoro(os.environ.get("KOKORO_TRT_BENCH_DEVICE", "cpu"), graphs=graphs, voices_dir=voices)
    with live_server(create_app(model, Settings(api_key=None, cache_bytes=0, queue_size=64))) as base:
        yield base


def _body(i: int = 0, **extra) -> dict:
    return {"model": "kokoro", "input": f"{TEXT} Request {i}.", "response_format": "pcm", **extra}


def test_latency_whole_request(benchmark, url):
    with httpx.Client(base_url=url, timeout=300) as client:
        response = benchmark.pedantic(lambda: client.post("/v1/audio/speech", json=_body()), rounds=5, iterations=1)
    assert response.status_code == 200
    benchmark.extra_info["audio_seconds"] = len(response.content) / 2 / 24000


def test_time_to_first_audio_byte(benchmark, url):
    def first_byte() -> float:
        start = time.perf_counter()
        with client.stream("POST", "/v1/audio/speech", json=_body(stream=True)) as response:
            chunks = response.iter_raw()
            next(chunks)
            elapsed = time.perf_counter() - start
            for _ in chunks:
                pass
        return elapsed

    with httpx.Client(base_url=url, timeout=300) as client:
        seconds = benchmark.pedantic(first_byte, rounds=5, iterations=1)
    benchmark.extra_info["last_first_byte_seconds"] = seconds


def test_throughput_under_load(benchmark, url):
    def one_client(worker: int) -> float:
        audio = 0.0
        with httpx.Client(base_url=url, timeout=300) as client:
            for i in range(REQUESTS_EACH):
                response = client.post("/v1/audio/speech", json=_body(worker * 100 + i, stream=i % 2 == 1))
                assert response.status_code == 200
                audio += len(response.content) / 2 / 24000
        return audio

    def load() -> float:
        with ThreadPoolExecutor(CLIENTS) as pool:
            return sum(pool.map(one_client, range(CLIENTS)))

    start = time.perf_counter()
    audio = benchmark.pedantic(load, rounds=1, iterations=1)
    wall = time.perf_counter() - start
    benchmark.extra_info |= {
        "clients": CLIENTS,
        "requests": CLIENTS * REQUESTS_EACH,
        "requests_per_second": CLIENTS * REQUESTS_EACH / wall,
        "audio_seconds_per_second": audio / wall,
    }
