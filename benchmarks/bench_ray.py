"""Ray Serve on 127.0.0.1: ``pytest benchmarks/bench_ray.py`` (needs the ``ray`` extra).

A local Ray cluster (2 logical CPUs) runs the app as ``kokoro-trt serve --ray`` deploys it, three times
in one run, each with ``CLIENTS`` clients sending ``REQUESTS_EACH`` whole requests (audio cache off):

- ``one_replica_two_threads``: the single server's shape (one model on both cores), the baseline;
- ``one_replica_one_thread``: one model on one core;
- ``two_replicas_one_thread``: two models on a core each, the proxy spreading the clients.

Throughput is audio seconds per wall second, each reported as a ratio to the baseline. Then, with two
replicas, ``failover``: one replica is SIGKILLed under steady load; reported are the failed requests, the
median latency before the kill, the latencies of the successful requests that overlapped the outage
(from the kill until two replicas answer again), and how long that took. Last, ``autoscaling``: 1 to 2
replicas (one thread each) under ``SCALING_CLIENTS`` clients for at most ``SCALING_LOAD_S``; reported are
the replicas by state over time (Serve's status: when it starts a second, when that one RUNs), the time from load start to the second replica's first
answer (it fails if none comes), the failed requests, and the time from load end back to one replica.
Results in ``results/ray.json``.

The model: ``$KOKORO_TRT_BENCH_GRAPHS`` (e.g. a real export), else the tiny random-weight test model;
voices from ``$KOKORO_TRT_SHARED/voices`` (default ``../shared/voices``).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

pytest.importorskip("ray", reason="needs the ray extra: pip install -e '.[ray]'")
from ray import serve

from kokoro_trt.server import Settings
from kokoro_trt.server.ray_serve import APP_NAME, RayOptions, application
from tests.ray_cluster import (
    Outcome,
    answering_replicas,
    free_port,
    local_cluster,
    replica_pid,
    replica_states,
    request,
    wait_for_replicas,
)
from tests.server_fixtures import STAGE_NAMES

ROOT = Path(__file__).resolve().parents[1]
TEXT = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April, and the clocks were striking."
CLIENTS, REQUESTS_EACH = 4, 3
SAMPLE_RATE = 24_000
SHAPES = {
    "one_replica_two_threads": RayOptions(replicas=1, threads=2),
    "one_replica_one_thread": RayOptions(replicas=1, threads=1),
    "two_replicas_one_thread": RayOptions(replicas=2, threads=1),
}
AUTOSCALING = RayOptions(
    replicas=1, min_replicas=1, max_replicas=2, target_ongoing_requests=2, upscale_delay_s=5, downscale_delay_s=10
)
SCALING_CLIENTS, SCALING_LOAD_S = 6, 60

_results: dict = {"load_before": os.getloadavg()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[tuple[str, Settings]]:
    graphs = os.environ.get("KOKORO_TRT_BENCH_GRAPHS") or _tiny_graphs(tmp_path_factory.mktemp("ray-graphs"))
    voices = Path(os.environ.get("KOKORO_TRT_SHARED", ROOT.parent / "shared")) / "voices"
    settings = Settings(device="cpu", graphs=graphs, voices_dir=voices, cache_bytes=0, queue_size=16)
    with local_cluster(free_port()) as url:
        yield url, settings


def _tiny_graphs(directory: Path) -> Path:
    pytest.importorskip("torch")
    from kokoro_trt.export.onnx_export import export_graphs
    from kokoro_trt.graphs import MANIFEST_NAME
    from tests.tiny_model import tiny_kmodel

    export_graphs(tiny_kmodel(), directory)
    manifest = {"samples_per_frame": 600, "graphs": {n: {"file": f"{n}.onnx"} for n in STAGE_NAMES}}
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))
    return directory


def _deploy(settings: Settings, options: RayOptions) -> None:
    """The app afresh in ``options``' shape (deleted first: 2 CPUs hold no rolling update)."""
    serve.delete(APP_NAME)
    serve.run(application(settings, options), name=APP_NAME)


def _throughput(url: str) -> float:
    """Audio seconds per wall second for ``CLIENTS`` clients, each sending ``REQUESTS_EACH`` in turn."""

    def client(_: int) -> float:
        with httpx.Client(base_url=url, timeout=300) as http:
            outcomes = [request(http, TEXT, stream=False) for _ in range(REQUESTS_EACH)]
        assert all(o.ok for o in outcomes), [(o.status, o.error) for o in outcomes]
        return sum(len(o.body) for o in outcomes) / 2 / SAMPLE_RATE

    with httpx.Client(base_url=url, timeout=300) as http:
        request(http, TEXT, stream=False)  # warm: first-use costs out of the timing
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        audio = sum(pool.map(client, range(CLIENTS)))
    return audio / (time.perf_counter() - start)


def test_throughput_by_replicas(benchmark, cluster):
    url, settings = cluster
    figures: dict[str, float] = {}

    def measure_all() -> None:
        for name, options in SHAPES.items():
            _deploy(settings, options)
            wait_for_replicas(url, options.initial, without=None, timeout_s=120)
            figures[name] = _throughput(url)

    benchmark.pedantic(measure_all, rounds=1, iterations=1)
    baseline = figures["one_replica_two_threads"]
    _results["throughput_audio_s_per_s"] = {name: round(value, 2) for name, value in figures.items()}
    _results["ratio_to_one_replica_two_threads"] = {name: round(v / baseline, 2) for name, v in figures.items()}
    _results["two_replicas_over_one_replica_one_thread"] = round(
        figures["two_replicas_one_thread"] / figures["one_replica_one_thread"], 2
    )
    benchmark.extra_info.update(_results)


def test_latency_through_a_replica_failure(benchmark, cluster):
    url, settings = cluster
    _deploy(settings, SHAPES["two_replicas_one_thread"])
    assert wait_for_replicas(url, 2, without=None, timeout_s=120)
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def client(index: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            for n in range(60):  # bounded, whatever happens
                if stop.is_set():
                    return
                outcomes.append(request(http, TEXT, stream=(index + n) % 2 == 1))

    def outage() -> dict:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(8)  # steady state first
        victim = next(o.replica for o in reversed(outcomes) if o.replica)
        os.kill(replica_pid(victim), signal.SIGKILL)
        killed_at = time.monotonic()
        recovered = wait_for_replicas(url, 2, without=victim, timeout_s=120)
        recovered_at = time.monotonic()
        time.sleep(4)  # and after
        stop.set()
        for thread in threads:
            thread.join(180)
        before = [o.ended - o.started for o in outcomes if o.ok and o.ended < killed_at]
        during = [o.ended - o.started for o in outcomes if o.ok and o.started < recovered_at and o.ended > killed_at]
        failed = [o for o in outcomes if not o.ok]
        return {
            "recovered": recovered,
            "seconds_until_two_replicas": round(recovered_at - killed_at, 1),
            "requests": len(outcomes),
            "failed": len(failed),
            "failures": sorted({f"{o.status} {o.error}" for o in failed}),
            "median_latency_before_s": round(statistics.median(before), 2),
            "latencies_during_outage_s": sorted(round(latency, 2) for latency in during),
        }

    report = benchmark.pedantic(outage, rounds=1, iterations=1)
    _results["failover"] = report
    _results["load_after"] = os.getloadavg()
    benchmark.extra_info.update(report)
    assert report["recovered"]


def test_autoscaling_under_load(benchmark, cluster):
    url, settings = cluster
    _deploy(settings, AUTOSCALING)
    assert wait_for_replicas(url, 1, without=None, timeout_s=120)
    (first,) = answering_replicas(url, 1)
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def client(_: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            while not stop.is_set():
                outcomes.append(request(http, TEXT, stream=False))

    def scale() -> dict:
        start = time.monotonic()
        states: list[tuple[float, dict[str, int]]] = []

        def sample_until(done: Callable[[], bool], deadline: float) -> None:
            """``states`` gets each change of the replicas' states until ``done()`` or ``deadline``."""
            while not done() and time.monotonic() < deadline:
                now = replica_states()
                if not states or states[-1][1] != now:
                    states.append((round(time.monotonic() - start, 1), now))
                time.sleep(1)

        def second_served() -> float | None:
            ended = [o.ended for o in list(outcomes) if o.ok and o.replica != first]
            return min(ended) - start if ended else None

        threads = [threading.Thread(target=client, args=(i,)) for i in range(SCALING_CLIENTS)]
        for thread in threads:
            thread.start()
        sample_until(lambda: (second_served() or 1e9) + 10 < time.monotonic() - start, start + SCALING_LOAD_S)
        stop.set()
        for thread in threads:
            thread.join(180)
        load_end = time.monotonic()
        sample_until(lambda: replica_states() == {"RUNNING": 1}, load_end + (AUTOSCALING.downscale_delay_s or 0) + 60)
        scaled_down = replica_states() == {"RUNNING": 1}
        failed = [o for o in outcomes if not o.ok]
        served = second_served()
        return {
            "clients": SCALING_CLIENTS,
            "seconds_to_second_replica_serving": served and round(served, 1),
            "replica_states_over_time_s": states,
            "load_seconds": round(load_end - start, 1),
            "requests": len(outcomes),
            "per_replica": {r: sum(o.replica == r for o in outcomes) for r in {o.replica for o in outcomes}},
            "failed": len(failed),
            "failures": sorted({f"{o.status} {o.error}" for o in failed}),
            "scaled_down": scaled_down,
            "seconds_from_load_end_to_one_replica": round(time.monotonic() - load_end, 1) if scaled_down else None,
        }

    report = benchmark.pedantic(scale, rounds=1, iterations=1)
    _results["autoscaling"] = report
    _results["load_after"] = os.getloadavg()
    benchmark.extra_info.update(report)
    assert report["seconds_to_second_replica_serving"] is not None, report
