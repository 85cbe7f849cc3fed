"""Fixtures for the server tests: the tiny model exported once, wrappers that stall or fail on cue,
and a live uvicorn server on 127.0.0.1 (a free port, shut down at the end), with ``url`` and ``client``
fixtures for the ``app`` fixture a test module defines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
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
    from tests.tiny_model import tiny_kmodel

    directory = tmp_path_factory.mktemp("server-graphs")
    export_graphs(tiny_kmodel(), directory, samples_per_frame=600)
    manifest = {"samples_per_frame": 600, "graphs": {name: {"file": f"{name}.onnx"} for name in STAGE_NAMES}}
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))
    return directory


@pytest.fixture(scope="session")
def server_model(server_graphs: Path, voices_dir: Path):
    from kokoro_trt.runtime import load_kokoro

    return load_kokoro("cpu", graphs=server_graphs, voices_dir=voices_dir, threads=2)


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

    async def aspeak(self, text: str, **options: Any) -> Any:
        await asyncio.to_thread(self.before, text)
        return await self.inner.aspeak(text, **options)

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


class _SlowBackend:
    """A backend whose decoder takes ``seconds`` longer per chunk (long requests from a tiny model) and
    counts the chunks it decoded."""

    def __init__(self, inner: Any, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds
        self.decoded = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def decode(self, *args: Any) -> Any:
        time.sleep(self.seconds)
        self.decoded += 1
        return self.inner.decode(*args)


def slowed(model: Any, seconds: float) -> Any:
    """A real :class:`KokoroModel` sharing ``model``'s parts, each chunk ``seconds`` slower to decode (so
    its own cancellation, which acts between chunks, is what a test sees); ``.backend.decoded`` counts
    the chunks."""
    from kokoro_trt.runtime import KokoroModel

    return KokoroModel(
        _SlowBackend(model.backend, seconds),
        config=model.config,
        frontend=model.frontend,
        voices=model.voices,
        characters=model.characters,
        emotions=model.emotions,
    )


def reset(sock: socket.socket) -> None:
    """Drop a connection the way a vanished client does: a TCP reset, no goodbye."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@contextlib.contextmanager
def live_server(app: Any, config: Any = None) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free loopback port; yields the base URL. ``config``:
    a ``uvicorn.Config`` to use instead of a quiet default (e.g. the one ``serve`` builds)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(config or uvicorn.Config(app, log_level="warning", lifespan="on"))
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


@pytest.fixture(scope="module")
def url(app: Any) -> Iterator[str]:
    """The base URL of a live server running the test module's own ``app`` fixture."""
    with live_server(app) as base:
        yield base


@pytest.fixture()
def client(url: str) -> Iterator[Any]:
    """An HTTP client of :func:`url`'s server."""
    import httpx

    with httpx.Client(base_url=url, timeout=120) as c:
        yield c
