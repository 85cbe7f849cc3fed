"""The server on Ray Serve (``kokoro_trt.server.ray_serve``): two replicas of the tiny model on a local
Ray cluster on loopback, shared by every test here (started once).

The replicas start on an empty cache and export the tiny model themselves, so the cache's lock is seen
at work; then the same routes, bytes, API key and metrics as the single server; then one replica is
killed with SIGKILL under load."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest

pytest.importorskip("ray", reason="needs the ray extra: pip install -e '.[ray]'")

from ray import serve

from kokoro_trt.server import Settings, create_app
from kokoro_trt.server.ray_serve import APP_NAME, REPLICA_HEADER, RayOptions, application
from tests.ray_cluster import (
    Outcome,
    free_port,
    local_cluster,
    replica_pid,
    replica_states,
    request,
    speech_body,
    tiny_loader,
    wait_for_replicas,
)
from tests.server_fixtures import live_server

KEY = "ray-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SHORT = "The quick brown fox jumps over the lazy dog."
LONG = " ".join(f"Sentence number {n} of a longer text, spoken one piece at a time." for n in range(1, 9))
RECOVERY_TIMEOUT_S = 120


@dataclass
class Cluster:
    url: str
    metrics_url: str
    cache: Path
    log: Path
    settings: Settings
    health_while_starting: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def cluster(tiny_weights: Path, voices_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cache = tmp_path_factory.mktemp("ray-cache")
    port, metrics_port = free_port(), free_port()
    with local_cluster(port, metrics_port, KOKORO_TRT_CACHE=str(cache)) as url:
        settings = Settings(device="cpu", voices_dir=voices_dir, api_key=KEY, cache_bytes=0, queue_size=8)
        log = cache / "replica-loads.log"
        found = Cluster(url, f"http://127.0.0.1:{metrics_port}/metrics", cache, log, settings)
        app = application(settings, RayOptions(replicas=2), partial(tiny_loader, tiny_weights, voices_dir, log))
        deploy = threading.Thread(target=serve.run, args=(app,), kwargs={"name": APP_NAME})
        deploy.start()
        while deploy.is_alive():  # what a client sees while the replicas load
            found.health_while_starting.append(_health(url))
            deploy.join(0.5)
        assert replica_states().get("RUNNING") == 2
        yield found


def _health(url: str) -> str:
    """``/health`` as a client sees it: the status it reports, another HTTP status, or ``held`` (no answer
    within 2 s)."""
    try:
        response = httpx.get(f"{url}/health", timeout=2)
    except httpx.TimeoutException:
        return "held"
    is_json = response.headers.get("content-type") == "application/json"
    return response.json()["status"] if is_json else str(response.status_code)


@pytest.fixture(scope="module")
def reference(cluster: Cluster, voices_dir: Path) -> Iterator[httpx.Client]:
    """The single-process server on the graphs the replicas exported: the bytes to expect."""
    from kokoro_trt.runtime import load_kokoro

    (graphs,) = (cluster.cache / "graphs").iterdir()
    model = load_kokoro("cpu", graphs=graphs, voices_dir=voices_dir, threads=1)
    with (
        live_server(create_app(model, cluster.settings)) as url,
        httpx.Client(base_url=url, headers=AUTH, timeout=60) as client,
    ):
        yield client


def _expected(reference: httpx.Client, text: str, stream: bool) -> bytes:
    response = reference.post("/v1/audio/speech", json=speech_body(text, stream))
    assert response.status_code == 200, response.text
    return response.content


def test_replicas_on_an_empty_cache_export_once(cluster):
    lines = cluster.log.read_text().split()
    assert lines.count("load") == 2 and lines.count("export") == 1, lines


def test_no_replica_takes_requests_before_its_model_is_loaded(cluster):
    """While the replicas load, Ray's proxy holds requests (or answers 404 while its routes update): no
    client ever sees a replica's 503 "loading"."""
    seen = cluster.health_while_starting
    assert "held" in seen and set(seen) <= {"held", "404", "ok"}, seen


def test_every_replica_answers_with_the_single_servers_bytes(cluster, reference):
    expected = {stream: _expected(reference, SHORT, stream) for stream in (False, True)}
    replicas: set[str] = set()
    with httpx.Client(base_url=cluster.url, headers=AUTH, timeout=60) as client:
        for attempt in range(20):
            stream = attempt % 2 == 1
            response = client.post("/v1/audio/speech", json=speech_body(SHORT, stream))
            assert response.status_code == 200, response.text
            assert response.content == expected[stream], (stream, len(response.content), len(expected[stream]))
            replicas.add(response.headers[REPLICA_HEADER])
            if len(replicas) == 2 and attempt >= 3:
                break
        assert len(replicas) == 2, "the proxy never reached the second replica"
        assert client.get("/health").json()["status"] == "ok"


def test_the_api_key_is_checked_on_every_replica(cluster):
    refusing: set[str] = set()
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        for attempt in range(20):
            headers = {"Authorization": "Bearer wrong"} if attempt % 2 else {}
            refused = client.post("/v1/audio/speech", json=speech_body(SHORT, False), headers=headers)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
            refusing.add(refused.headers[REPLICA_HEADER])
            if len(refusing) == 2 and attempt >= 3:
                break
    assert len(refusing) == 2


def test_the_websocket_works_through_the_proxy(cluster, reference):
    messages = [{"type": "config", "voice": "af_heart"}, {"type": "text", "text": SHORT}, {"type": "end"}]
    audio = {name: _spoken(str(url), messages) for name, url in (("ray", cluster.url), ("single", reference.base_url))}
    assert audio["ray"] and audio["ray"] == audio["single"]


def _spoken(url: str, messages: list[dict]) -> bytes:
    """The audio a WebSocket session of ``messages`` gets back, up to ``done``."""
    from websockets.sync.client import connect

    audio = b""
    with connect(
        url.replace("http://", "ws://").rstrip("/") + f"/v1/audio/speech/ws?api_key={KEY}", open_timeout=30
    ) as ws:
        for message in messages:
            ws.send(json.dumps(message))
        while True:
            frame = ws.recv(timeout=60)
            if isinstance(frame, bytes):
                audio += frame
            elif json.loads(frame)["type"] == "done":
                return audio


def test_each_replica_exports_its_metrics_through_ray(cluster):
    """Counters and histograms alike, each replica's under its own ``replica`` tag."""
    with httpx.Client(base_url=cluster.url, headers=AUTH, timeout=60) as client:
        for _ in range(4):
            client.post("/v1/audio/speech", json=speech_body(SHORT, False))
    series = ("ray_kokoro_requests_total{", "ray_kokoro_request_seconds_bucket{")
    deadline = time.monotonic() + 30
    replicas: dict[str, set[str]] = {}
    while time.monotonic() < deadline and not all(len(replicas.get(name, ())) == 2 for name in series):
        time.sleep(1)
        lines = httpx.get(cluster.metrics_url, timeout=10).text.splitlines()
        replicas = {
            name: {
                line.split('replica="')[1].split('"')[0]
                for line in lines
                if line.startswith(name) and 'path="/v1/audio/speech"' in line
            }
            for name in series
        }
    assert all(len(replicas.get(name, ())) == 2 for name in series), replicas


def test_a_replica_killed_under_load_fails_its_requests_cleanly_and_comes_back(cluster, reference):
    expected = {(SHORT, stream): _expected(reference, SHORT, stream) for stream in (False, True)}
    stop = threading.Event()
    outcomes: list[Outcome] = []

    def client_loop(index: int) -> None:
        with httpx.Client(base_url=cluster.url, headers=AUTH, timeout=60) as client:
            for n in range(30):  # bounded, whatever happens
                if stop.is_set():
                    return
                outcomes.append(request(client, SHORT, stream=(index + n) % 2 == 1))

    clients = [threading.Thread(target=client_loop, args=(i,)) for i in range(3)]
    for thread in clients:
        thread.start()
    cut = Outcome((LONG, True), time.monotonic())
    with (
        httpx.Client(base_url=cluster.url, headers=AUTH, timeout=60) as client,
        client.stream("POST", "/v1/audio/speech", json=speech_body(LONG, True)) as response,
    ):
        cut.status, cut.replica = response.status_code, response.headers[REPLICA_HEADER]
        chunks = response.iter_bytes()
        cut.body = next(chunks)  # the stream has begun: its replica is killed mid-stream
        os.kill(replica_pid(cut.replica), signal.SIGKILL)
        killed_at = time.monotonic()
        try:
            for chunk in chunks:
                cut.body += chunk
        except httpx.TransportError as exc:
            cut.error = type(exc).__name__
    recovered = wait_for_replicas(cluster.url, 2, without=cut.replica, timeout_s=RECOVERY_TIMEOUT_S)
    recovered_at = time.monotonic()
    stop.set()
    for thread in clients:
        thread.join(120)

    assert recovered, f"Serve did not bring a second replica back: {replica_states()}"
    # The stream cut by the kill must not look complete: the client sees an error, not a clean end.
    assert cut.error is not None, f"a stream cut by the kill ended cleanly ({len(cut.body)} bytes)"
    failed = [o for o in outcomes if not o.ok]
    succeeded = [o for o in outcomes if o.ok]
    assert succeeded, "no request of the load succeeded"
    for outcome in succeeded:  # nothing corrupt: every complete answer has the solo run's bytes
        assert outcome.body == expected[outcome.key], (outcome.replica, outcome.key)
    for outcome in failed:  # only requests on the dead replica, or sent before Serve knew it was dead
        assert outcome.replica in (None, cut.replica), outcome
        assert outcome.started < recovered_at and outcome.ended > killed_at, outcome
        # cleanly: a 5xx, or a cut connection (a stream's 200 came before the kill; its end never did)
        assert outcome.error is not None or outcome.status >= 500, outcome
    print(
        f"\nload: {len(succeeded)} ok, {len(failed)} failed {[(o.status, o.error) for o in failed]}; "
        f"cut stream: {cut.error} after {len(cut.body)} bytes; back after {recovered_at - killed_at:.1f} s"
    )
    with httpx.Client(base_url=cluster.url, headers=AUTH, timeout=60) as client:
        for stream in (False, True):
            assert client.post("/v1/audio/speech", json=speech_body(SHORT, stream)).content == expected[SHORT, stream]
