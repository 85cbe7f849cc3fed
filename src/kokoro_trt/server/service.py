"""The synthesis service: one shared model, worker threads, a bounded admission queue and the cache.

Every model call runs in a worker thread, so the event loop never waits on inference. A request holds
one of ``queue_size`` slots from admission until its last byte; with none free it gets 503.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..voices.suggest import not_found
from .cache import AudioCache
from .errors import ApiError
from .metrics import Metrics
from .schemas import SpeechOptions
from .settings import Settings
from .voices import resolve_voice

T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One validated synthesis: the text and the model keyword arguments (hashable, for the cache)."""

    text: str
    voice_id: str
    speed: float
    emotion: str
    seed: int | None
    pitch_shift: float | None
    pitch_range: float | None
    energy: float | None

    def kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "text"}


class Slot:
    """An admission slot; release it exactly once."""

    def __init__(self, service: Service) -> None:
        self._service = service
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._service._release()


class _Stepper:
    """Advances a model stream in worker threads, one step at a time, closable from any thread."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._chunks = chunks
        self._lock = threading.Lock()
        self.compute_seconds = 0.0

    def step(self) -> Any:
        with self._lock:
            start = time.perf_counter()
            try:
                return next(self._chunks, None)
            finally:
                self.compute_seconds += time.perf_counter() - start

    def close(self) -> None:
        with self._lock:
            self._chunks.close()  # type: ignore[attr-defined]


class Service:
    """Shared state of a running app: the model, the worker pool, the queue, the cache, the metrics."""

    def __init__(self, model: Any, settings: Settings, metrics: Metrics) -> None:
        self.model = model
        self.settings = settings
        self.metrics = metrics
        self.cache = AudioCache(settings.cache_size)
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="kokoro-infer")
        self._admitted = 0

    @property
    def sample_rate(self) -> int:
        return int(self.model.sample_rate)

    @property
    def queue_depth(self) -> int:
        return self._admitted

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- admission ------------------------------------------------------------------------------

    def admit(self) -> Slot:
        """A slot, or 503 with Retry-After when ``queue_size`` requests are already admitted."""
        if self._admitted >= self.settings.queue_size:
            self.metrics.rejected.inc()
            raise ApiError(
                503,
                f"server busy: {self._admitted} requests queued; retry shortly",
                type="server_error",
                code="queue_full",
                headers={"Retry-After": str(self.settings.retry_after_s)},
            )
        self._admitted += 1
        self.metrics.queue_depth.set(self._admitted)
        return Slot(self)

    def _release(self) -> None:
        self._admitted -= 1
        self.metrics.queue_depth.set(self._admitted)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- synthesis ------------------------------------------------------------------------------

    def job(self, text: str, options: SpeechOptions) -> Job:
        """Validate ``text`` and ``options`` against this model (voice, emotion, length)."""
        if not text.strip():
            raise ApiError(400, "input must contain some text", param="input", code="empty_input")
        if len(text) > self.settings.max_input_chars:
            raise ApiError(
                400,
                f"input is {len(text)} characters; the limit is {self.settings.max_input_chars}",
                param="input",
                code="input_too_long",
            )
        if options.emotion not in self.model.emotions:
            exc = not_found("emotion", options.emotion, self.model.emotions)
            raise ApiError(400, str(exc), param="emotion", code="emotion_not_found")
        try:
            voice = resolve_voice(self.model, options.voice)
        except KeyError as exc:
            raise ApiError(400, str(exc), param="voice", code="voice_not_found") from exc
        return Job(
            text, voice, options.speed, options.emotion, options.seed, options.pitch, options.pitch_range,
            options.energy,
        )  # fmt: skip

    async def synthesize(self, job: Job) -> np.ndarray:
        """The whole audio of ``job``: from the cache, or the model's stream concatenated."""
        cached = self.cache.get(job)
        if cached is not None:
            self.metrics.cache_hits.inc()
            return cached
        slot = self.admit()
        try:
            stepper = _Stepper(self.model.stream(job.text, **job.kwargs()))
            audio = await self.run(_drain, stepper)
        finally:
            slot.release()
        self._finished(job, audio, stepper.compute_seconds)
        return audio

    async def stream(self, job: Job) -> AsyncIterator[np.ndarray]:
        """Audio chunks of ``job``. The first is synthesised before this returns, so errors surface
        as HTTP errors; the rest are made as the caller consumes them."""
        cached = self.cache.get(job)
        if cached is not None:
            self.metrics.cache_hits.inc()
            return _once(cached)
        slot = self.admit()
        stepper = _Stepper(self.model.stream(job.text, **job.kwargs()))
        start = time.perf_counter()
        try:
            first = await self.run(stepper.step)
        except BaseException:
            slot.release()
            await self.run(stepper.close)
            raise
        self.metrics.first_audio.observe(time.perf_counter() - start)
        return self._rest(job, slot, stepper, first)

    async def _rest(self, job: Job, slot: Slot, stepper: _Stepper, chunk: Any) -> AsyncIterator[np.ndarray]:
        pieces: list[np.ndarray] = []
        try:
            while chunk is not None:
                pieces.append(chunk.audio)
                yield chunk.audio
                chunk = await self.run(stepper.step)
        finally:
            slot.release()
            if chunk is not None:  # stopped early: client gone or an error
                self._pool.submit(stepper.close)
        audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        self._finished(job, audio, stepper.compute_seconds)

    def _finished(self, job: Job, audio: np.ndarray, compute_seconds: float) -> None:
        self.metrics.observe_synthesis(compute_seconds, len(audio) / self.sample_rate)
        self.cache.put(job, audio)


def _drain(stepper: _Stepper) -> np.ndarray:
    pieces = []
    while (chunk := stepper.step()) is not None:
        pieces.append(chunk.audio)
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)


async def _once(audio: np.ndarray) -> AsyncIterator[np.ndarray]:
    yield audio
