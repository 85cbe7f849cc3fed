"""The synthesis service: one shared model, worker threads, a bounded admission queue and the cache.

Every model call runs in a worker thread, so the event loop never waits on inference. A request holds
one of ``queue_size`` slots from admission until its last byte, or until its client leaves (the
synthesis then stops at its next chunk); with none free it gets 503.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Hashable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..text import WordTimestamp
from .cache import ByteCache
from .errors import ApiError
from .jobs import Job
from .metrics import Metrics
from .settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class Rendered:
    """Finished audio, the words it speaks (times in seconds) and whether the audio cap cut it."""

    audio: np.ndarray
    words: tuple[WordTimestamp, ...]
    truncated: bool

    @property
    def nbytes(self) -> int:
        return self.audio.nbytes + 64 * len(self.words)


@dataclass(frozen=True)
class Piece:
    """One streamed piece of audio and the words in it (times from the start of the stream)."""

    audio: np.ndarray
    words: tuple[WordTimestamp, ...]


@dataclass
class Outcome:
    """What a synthesis produced; a stream's is complete once the stream is exhausted."""

    samples: int = 0
    words: int = 0
    truncated: bool = False


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
    """Advances a model stream in worker threads, one step at a time, stoppable from any thread."""

    def __init__(self, model: Any, job: Job) -> None:
        self.cancel = threading.Event()
        self._chunks: Iterator[Any] = model.stream(job.text, options=job.options, cancel=self.cancel)
        self._lock = threading.Lock()
        self.compute_seconds = 0.0

    def step(self) -> Any:
        with self._lock:
            start = time.perf_counter()
            try:
                return next(self._chunks, None)
            finally:
                self.compute_seconds += time.perf_counter() - start

    def stop(self, pool: ThreadPoolExecutor) -> None:
        """End the stream: a step waiting for the model returns at once; the generator is closed in
        ``pool`` once no step runs."""
        self.cancel.set()
        pool.submit(self._close)

    def _close(self) -> None:
        with self._lock:
            self._chunks.close()  # type: ignore[attr-defined]


class Service:
    """Shared state of a running app: the model, the worker pool, the queue, the cache, the metrics."""

    def __init__(self, model: Any, settings: Settings, metrics: Metrics, lexicon: Mapping[str, str]) -> None:
        self.model = model
        self.settings = settings
        self.metrics = metrics
        self.lexicon = lexicon
        self.cache: ByteCache[Rendered] = ByteCache(settings.cache_bytes)
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="kokoro-infer")
        self._whole = asyncio.Semaphore(settings.workers)  # whole syntheses in threads at once
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

    async def synthesize(self, job: Job) -> Rendered:
        """The whole audio of ``job`` from ``model.speak`` (chunked at sentences for quality), or the cache.

        Cancelling the caller stops the synthesis at its next chunk (``model.aspeak``) and frees the slot."""
        key = ("whole", job)
        cached = self.cache.get(key)
        if cached is not None:
            self.metrics.cache_hits.inc()
            return cached
        slot = self.admit()
        start = time.perf_counter()
        try:
            async with self._whole:
                speech = await self.model.aspeak(job.text, options=job.options)
        finally:
            slot.release()
        rendered = Rendered(np.asarray(speech.audio, dtype=np.float32), tuple(speech.words), speech.truncated)
        self._finished(key, outcome_of(rendered), time.perf_counter() - start, rendered)
        return rendered

    async def stream(self, job: Job) -> tuple[AsyncGenerator[Piece, None], Outcome]:
        """Pieces of ``job`` from ``model.stream`` (a short first piece, then sentences) and their outcome,
        complete once the pieces are exhausted. The first piece is synthesised before this returns, so
        errors surface as HTTP errors; the rest are made as the caller consumes them."""
        key = ("stream", job)
        cached = self.cache.get(key)
        if cached is not None:
            self.metrics.cache_hits.inc()
            return _once(cached), outcome_of(cached)
        slot = self.admit()
        stepper = _Stepper(self.model, job)
        start = time.perf_counter()
        try:
            first = await self.run(stepper.step)
        except BaseException:  # an error, or the client gone: a step not yet started never runs
            slot.release()
            stepper.stop(self._pool)
            raise
        self.metrics.first_audio.observe(time.perf_counter() - start)
        outcome = Outcome()
        pieces = self._rest(job, key, slot, stepper, first, outcome)
        weakref.finalize(pieces, slot.release)  # never iterated (its client left first): no finally runs
        return pieces, outcome

    async def _rest(
        self, job: Job, key: Hashable, slot: Slot, stepper: _Stepper, chunk: Any, outcome: Outcome
    ) -> AsyncGenerator[Piece, None]:
        kept: list[Piece] | None = []  # for the cache, dropped once too big for it (flat memory)
        try:
            while chunk is not None:
                piece = Piece(np.asarray(chunk.audio, dtype=np.float32), tuple(chunk.words))
                outcome.samples += len(piece.audio)
                outcome.words += len(piece.words)
                if kept is not None:
                    kept.append(piece)
                    kept = kept if outcome.samples * 4 <= self.cache.entry_limit else None
                yield piece
                chunk = await self.run(stepper.step)
        finally:
            slot.release()
            if chunk is not None:  # stopped early: client gone or an error
                stepper.stop(self._pool)
        outcome.truncated = job.options.max_seconds is not None and outcome.words < job.words
        self._finished(key, outcome, stepper.compute_seconds, _joined(kept, outcome) if kept is not None else None)

    def _finished(self, key: Hashable, outcome: Outcome, compute_seconds: float, rendered: Rendered | None) -> None:
        self.metrics.observe_synthesis(compute_seconds, outcome.samples / self.sample_rate)
        if outcome.truncated:
            self.metrics.truncated.inc()
        if rendered is not None:
            self.cache.put(key, rendered)


def outcome_of(rendered: Rendered) -> Outcome:
    return Outcome(len(rendered.audio), len(rendered.words), rendered.truncated)


def _joined(pieces: list[Piece], outcome: Outcome) -> Rendered:
    audio = np.concatenate([p.audio for p in pieces]) if pieces else np.zeros(0, np.float32)
    return Rendered(audio, tuple(w for p in pieces for w in p.words), outcome.truncated)


async def _once(rendered: Rendered) -> AsyncGenerator[Piece, None]:
    yield Piece(rendered.audio, rendered.words)
