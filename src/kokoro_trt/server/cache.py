"""A bounded LRU of finished audio, keyed by everything that determines the samples."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np


class AudioCache:
    """At most ``size`` read-only float32 arrays; ``size=0`` disables caching."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            audio = self._items.get(key)
            if audio is not None:
                self._items.move_to_end(key)
            return audio

    def put(self, key: Hashable, audio: np.ndarray) -> None:
        if self.size == 0:
            return
        audio = np.array(audio, dtype=np.float32)
        audio.setflags(write=False)
        with self._lock:
            self._items[key] = audio
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
