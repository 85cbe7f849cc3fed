"""asynthesize/aspeak/astream: the event loop keeps running, and cancellation frees the model."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

TEXT = "Hello world. This is a short test of the runtime, with two sentences."
LONG = " ".join(f"Sentence number {i} talks about the weather and the sea." for i in range(1, 13))


class _DecodeCounter:
    """Counts decoder runs, so a test can see whether synthesis goes on in the background."""

    def __init__(self, model, monkeypatch):
        self.calls = 0
        decode = model.backend.decode

        def counting(*args, **kwargs):
            self.calls += 1
            return decode(*args, **kwargs)

        monkeypatch.setattr(model.backend, "decode", counting)


def test_event_loop_keeps_ticking_while_two_syntheses_overlap(tiny_model):
    longer = LONG[: len(LONG) // 2]  # six sentences: long enough to overlap, short enough for CI
    expected = [tiny_model.synthesize(TEXT), tiny_model.synthesize(longer, seed=3)]

    async def main():
        ticks: list[float] = []
        stop = asyncio.Event()

        async def ticker():
            while not stop.is_set():
                sum(i * i for i in range(2_000))  # a slice of CPU work per tick
                ticks.append(time.perf_counter())
                await asyncio.sleep(0)

        tick_task = asyncio.create_task(ticker())
        started = time.perf_counter()
        audio = await asyncio.gather(tiny_model.asynthesize(TEXT), tiny_model.asynthesize(longer, seed=3))
        elapsed = time.perf_counter() - started
        stop.set()
        await tick_task
        return audio, np.diff([started, *ticks]), elapsed

    audio, gaps, elapsed = asyncio.run(main())
    assert all(np.array_equal(a, e) for a, e in zip(audio, expected, strict=True))
    assert elapsed > 0.5, "synthesis too short for this test to mean anything"
    assert len(gaps) > 100 and gaps.max() < 0.25 * elapsed, (len(gaps), gaps.max(), elapsed)


def test_astream_yields_what_stream_yields(tiny_model):
    async def collect():
        return [c async for c in tiny_model.astream(TEXT, first_chunk_tokens=20)]

    chunks = asyncio.run(collect())
    expected = list(tiny_model.stream(TEXT, first_chunk_tokens=20))
    assert [c.text for c in chunks] == [c.text for c in expected] and len(chunks) > 1
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(chunks, expected, strict=True))


def test_cancelling_astream_stops_synthesis_and_frees_the_model(tiny_model, monkeypatch):
    counter = _DecodeCounter(tiny_model, monkeypatch)
    total = len(list(tiny_model.stream(LONG, max_seconds=None, first_chunk_tokens=20)))
    counter.calls = 0

    async def main():
        first = asyncio.Event()

        async def consume():
            async for _ in tiny_model.astream(LONG, max_seconds=None, first_chunk_tokens=20):
                first.set()
                await asyncio.sleep(0.05)

        task = asyncio.create_task(consume())
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        at_cancel = counter.calls
        assert not tiny_model._lock.locked()
        after = await asyncio.wait_for(tiny_model.asynthesize("Next call."), timeout=60)
        return at_cancel, after

    at_cancel, after = asyncio.run(main())
    assert total >= 3 and at_cancel <= 2 < total
    assert counter.calls == at_cancel + 1 and after.size > 0  # only the following call decoded


def test_cancelling_aspeak_stops_at_the_next_chunk(tiny_model, monkeypatch):
    counter = _DecodeCounter(tiny_model, monkeypatch)
    chunks = len(tiny_model.frontend.chunks(LONG * 3))

    async def main():
        task = asyncio.create_task(tiny_model.aspeak(LONG * 3, max_seconds=None))
        while counter.calls == 0:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await asyncio.wait_for(tiny_model.aspeak("Next call."), timeout=60)

    speech = asyncio.run(main())
    assert chunks >= 3 and counter.calls < chunks + 1
    assert [w.word for w in speech.words] == ["Next", "call"]
