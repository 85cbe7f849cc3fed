"""Seeded noise for the harmonic source: same seed, same noise, on every backend and process."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

DEFAULT_SEED = 0
"""``seed=None`` means this seed: synthesis is always deterministic."""


class NoiseBank:
    """Standard normal float32 noise per seed, generated once and sliced for every call.

    Philox streams are prefix-stable (the first ``n`` values never depend on how many were drawn),
    so a table can grow without changing audio already produced for shorter inputs.
    """

    def __init__(self, min_length: int, max_seeds: int = 4) -> None:
        self._min_length = min_length
        self._max_seeds = max_seeds
        self._tables: OrderedDict[int, np.ndarray] = OrderedDict()

    def get(self, seed: int, start: int, stop: int) -> np.ndarray:
        """Noise samples ``[start, stop)`` of ``seed`` as a [1, stop - start] view (no copy)."""
        table = self._tables.get(seed)
        if table is None or table.size < stop:
            length = max(stop, self._min_length, 0 if table is None else 2 * table.size)
            table = np.random.Generator(np.random.Philox(seed)).standard_normal(length, dtype=np.float32)
        self._tables[seed] = table
        self._tables.move_to_end(seed)
        while len(self._tables) > self._max_seeds:
            self._tables.popitem(last=False)
        return table[start:stop].reshape(1, -1)
