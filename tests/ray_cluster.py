"""A local Ray cluster on loopback for the Ray Serve tests and benchmark, and what they do to it: send
requests, find a replica's process (to kill it), wait for replicas. Needs the ``ray`` extra."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ray
from ray import serve

from kokoro_trt.server.ray_serve import APP_NAME, DEPLOYMENT_NAME, REPLICA_HEADER


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def local_cluster(port: int, metrics_port: int | None = None, **env: str) -> Iterator[str]:
    """Ray on 2 logical CPUs with Serve's proxy on ``127.0.0.1:port``; yields its URL. ``env`` is set
    for the raylet, so every replica starts with it; ``metrics_port``: Ray's Prometheus endpoint,
    refreshed every second."""
    with environment(env):
        ray.init(
            num_cpus=2,
            object_store_memory=128 * 2**20,  # requests pass small objects; Ray's default takes 30% of RAM
            include_dashboard=False,
            log_to_driver=False,  # replicas' logs stay in /tmp/ray/session_latest/logs
            _metrics_export_port=metrics_port,
            _system_config={"metrics_report_interval_ms": 1000},
        )
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``env`` set in ``os.environ`` for the block, then restored."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def replica_states() -> dict[str, int]:
    """Replicas of the app by state (``{"RUNNING": 2}``)."""
    app = serve.status().applications.get(APP_NAME)
    return dict(app.deployments[DEPLOYMENT_NAME].replica_states) if app else {}


def replica_pid(replica: str) -> int:
    """The process of the replica with Ray's id ``replica`` (the ``ServeReplica`` actor's worker)."""
    (name,) = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].endswith(f"#{replica}")]
    actor = ray.get_actor(name, namespace="serve")
    return ray.get(actor.__ray_call__.remote(lambda _: os.getpid()), timeout=30)


def answering_replicas(url: str, count: int) -> set[str]:
    """The replicas that answer ``/health``, asked until ``count`` distinct ones have (or 40 times)."""
    seen: set[str] = set()
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(40):
            seen.add(client.get("/health").headers[REPLICA_HEADER])
            if len(seen) == count:
                break
    return seen


def wait_for_replicas(url: str, count: int, without: str | None, timeout_s: float) -> bool:
    """Whether ``count`` replicas run and answer (none of them ``without``) within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if replica_states().get("RUNNING") == count:
            back = answering_replicas(url, count)
            if len(back) == count and without not in back:
                return True
        time.sleep(1)
    return False


def speech_body(text: str, stream: bool) -> dict:
    return {"model": "kokoro", "input": text, "voice": "af_heart", "response_format": "pcm", "stream": stream}


@dataclass
class Outcome:
    """One request: what came back, from which replica, and when (``time.monotonic``)."""

    key: tuple[str, bool]
    started: float
    ended: float = 0.0
    status: int | None = None
    body: bytes = b""
    replica: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200


def request(client: httpx.Client, text: str, stream: bool) -> Outcome:
    """POST a speech request; a cut connection, or a stream ending without its last chunk, is an error."""
    outcome = Outcome((text, stream), time.monotonic())
    try:
        with client.stream("POST", "/v1/audio/speech", json=speech_body(text, stream)) as response:
            outcome.status, outcome.replica = response.status_code, response.headers.get(REPLICA_HEADER)
            outcome.body = response.read()
    except httpx.TransportError as exc:
        outcome.error = type(exc).__name__
    outcome.ended = time.monotonic()
    return outcome


def tiny_loader(weights: Path, voices_dir: Path, log: Path) -> Any:
    """A replica's loader: the tiny model exported into ``$KOKORO_TRT_CACHE`` on first use, each real
    export and each load written to ``log`` (replicas are separate processes)."""
    from kokoro_trt.export import pipeline
    from kokoro_trt.runtime import load_kokoro
    from tests.tiny_model import tiny_config

    export = pipeline._export

    def counted(*args: Any) -> Any:
        with log.open("a") as out:
            out.write("export\n")
        return export(*args)

    pipeline._export = counted
    try:
        graphs = pipeline.export_model(weights, tiny_config(), progress=False)
    finally:
        pipeline._export = export
    with log.open("a") as out:
        out.write("load\n")
    return load_kokoro("cpu", graphs=graphs.directory, voices_dir=voices_dir, threads=1)
