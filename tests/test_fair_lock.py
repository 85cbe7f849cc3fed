"""The model's lock: granted first come, first served, so requests take turns with the model."""

from __future__ import annotations

import threading
import time

import pytest

from kokoro_trt.runtime.fair_lock import FairLock
from tests.server_fixtures import slowed


def _queue_up(lock: FairLock, count: int, order: list[int]) -> list[threading.Thread]:
    """``count`` threads asking for ``lock`` one after another (each asks once the previous one waits)."""
    threads = []
    for i in range(count):
        thread = threading.Thread(target=lambda i=i: [lock.acquire(), order.append(i), lock.release()])
        thread.start()
        threads.append(thread)
        while lock._next_ticket < i + 2:  # it has taken its ticket (the holder has the first): order fixed
            time.sleep(0.001)
    return threads


def test_waiters_get_the_lock_in_the_order_they_asked() -> None:
    lock, order = FairLock(), []
    lock.acquire()
    threads = _queue_up(lock, 8, order)
    assert order == [] and lock.locked()
    lock.release()
    for thread in threads:
        thread.join(10)
    assert order == list(range(8))
    assert not lock.locked()


def test_a_waiter_interrupted_gives_up_its_turn() -> None:
    lock = FairLock()
    lock.acquire()
    with pytest.raises(TimeoutError), _Interrupting(lock):
        lock.acquire()  # interrupted while waiting
    lock.release()
    with lock:  # the abandoned turn is skipped, not waited for
        assert lock.locked()
    assert not lock.locked()


class _Interrupting:
    """Makes the next wait on ``lock``'s condition raise, as a KeyboardInterrupt would."""

    def __init__(self, lock: FairLock) -> None:
        self.lock = lock

    def __enter__(self) -> None:
        def interrupted(*args: object, **kwargs: object) -> bool:
            raise TimeoutError

        self.lock._state.wait_for = interrupted  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        del self.lock._state.wait_for


def test_a_stream_gets_its_chunks_while_a_long_synthesis_runs(server_model) -> None:
    """Before: a whole synthesis held the model from its first chunk to its last, so a stream asked for
    meanwhile waited for all of it (under load no stream completed)."""
    model = slowed(server_model, 0.05)
    text = " [pause:50ms] ".join(f"A long request, sentence number {i}." for i in range(8))  # 8 chunks
    speaker = threading.Thread(target=model.speak, args=(text,), kwargs={"max_seconds": None})
    speaker.start()
    while model.backend.decoded == 0:
        time.sleep(0.01)
    next(model.stream("Me too.", first_chunk_tokens=None))  # a short stream, asked for meanwhile
    served_after = model.backend.decoded - 1  # chunks of the long synthesis made before the stream's
    speaker.join(60)
    long_chunks = model.backend.decoded - 1
    assert long_chunks >= 4
    assert served_after <= 2 < long_chunks
