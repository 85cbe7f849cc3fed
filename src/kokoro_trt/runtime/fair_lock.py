"""A first-come, first-served lock: the model's, so that requests take turns with it chunk by chunk."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self


class FairLock:
    """A lock granted in the order it was asked for. ``threading.Lock`` wakes an arbitrary waiter, and the
    thread that has just released it usually takes it again, so a long synthesis rendering chunk after
    chunk starved every stream waiting for its next chunk."""

    def __init__(self) -> None:
        self._state = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._abandoned: set[int] = set()

    def acquire(self) -> None:
        with self._state:
            ticket = self._next_ticket
            self._next_ticket += 1
            try:
                self._state.wait_for(lambda: self._serving == ticket)
            except BaseException:  # interrupted while waiting (KeyboardInterrupt): give up the turn
                if self._serving == ticket:
                    self._advance()
                else:
                    self._abandoned.add(ticket)
                raise

    def release(self) -> None:
        with self._state:
            self._advance()

    def locked(self) -> bool:
        with self._state:
            return self._serving != self._next_ticket

    def _advance(self) -> None:
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.remove(self._serving)
            self._serving += 1
        self._state.notify_all()

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
