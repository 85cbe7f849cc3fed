"""Fixtures for the server tests: the tiny model exported once, wrappers that stall or fail on cue,
and a live uvicorn server on 127.0.0.1 (a free port, shut down at the end)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kokoro_trt.errors import BackendError

STAGE_NAMES = ("duration", "prosody", "decoder")


@pytest.fixture(scope="session")
def server_graphs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight model as a graph folder (ONNX graphs and the manifest GraphSet reads)."""
    pytest.importorskip("torch", reason="exporting the tiny model needs the export extra")
    from kokoro_trt.export.onnx_export import export_graphs
    from kokoro_trt.graphs import MANIFEST_NAME
    from tiny_model import tiny_kmodel

    directory = tmp_path_factory.mktemp("server-graphs")
    export_graphs(tiny_kmodel(), directory, samples_per_frame=600)
    manifest = {"samples_per_frame": 600, "graphs": {name: {"file": f"{name}.onnx"} for name in STAGE_NAMES}}
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))
    return directory


@pytest.fixture(scope="session")
def server_model(server_graphs: Path, voices_dir: Path):
    from kokoro_trt.runtime import load_kokoro

    return load_kokoro("cpu", graphs=server_graphs, voices_dir=voices_dir, threads=1)


class Wrapped:
    """A model that delegates everything to ``inner``; subclasses hook :meth:`before` into ``speak`` and
    ``stream`` (a stream runs it on its first step, as the model's own work starts there)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def before(self, text: str) -> None:
        """Runs before any synthesis of ``text``."""

    def speak(self, text: str, **options: Any) -> Any:
        self.before(text)
        return self.inner.speak(text, **options)

    def stream(self, text: str, **options: Any) -> Iterator[Any]:
        self.before(text)
        yield from self.inner.stream(text, **options)


class GatedModel(Wrapped):
    """Each synthesis announces itself on ``entered`` and waits for ``gate`` before producing audio."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def before(self, text: str) -> None:
        self.entered.set()
        assert self.gate.wait(60), "test never opened the gate"


class FailingModel(Wrapped):
    """The backend 'fails' for any text containing ``boom``."""

    def before(self, text: str) -> None:
        if "boom" in text:
            raise BackendError("simulated device failure")


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free loopback port; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.02)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
