"""A least-recently-used cache of finished syntheses, bounded by the bytes they hold."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar


class Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


V = TypeVar("V", bound=Sized)


class ByteCache(Generic[V]):
    """Values (each reporting its ``nbytes``) totalling at most ``max_bytes``; 0 disables caching.

    A value over ``entry_limit`` (an eighth of the budget) is not kept, so one long synthesis neither
    flushes the cache nor has to be held whole while it streams; adding one evicts the least recently used.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entry_limit = max_bytes // 8
        self.nbytes = 0
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        if value.nbytes > self.entry_limit:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self.nbytes -= old.nbytes if old is not None else 0
            self._items[key] = value
            self.nbytes += value.nbytes
            while self.nbytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self.nbytes -= evicted.nbytes

    def __len__(self) -> int:
        return len(self._items)
