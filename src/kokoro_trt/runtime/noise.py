"""Seeded noise for the harmonic source: same seed, same noise, on every backend and process."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

DEFAULT_SEED = 0
"""``seed=None`` means this seed: synthesis is always deterministic."""

BLOCK = 1 << 16
"""Noise is generated in blocks of this many samples; block ``k`` of a seed is its own Philox stream."""


def noise_block(seed: int, index: int) -> np.ndarray:
    """Block ``index`` of ``seed``'s noise: the same values whatever was generated before."""
    return np.random.Generator(np.random.Philox(seed).jumped(index)).standard_normal(BLOCK, dtype=np.float32)


class NoiseBank:
    """Standard normal float32 noise per seed, addressed by sample position, sliced without copies.

    Each seed keeps one window of whole blocks, at least ``min_length`` samples, covering the last
    request; a request outside it moves the window. Memory stays bounded however long a stream runs,
    and any position's noise is the same whichever window produced it.
    """

    def __init__(self, min_length: int, max_seeds: int = 4) -> None:
        self._min_length = min_length
        self._max_seeds = max_seeds
        self._windows: OrderedDict[int, tuple[int, np.ndarray]] = OrderedDict()  # seed -> (first sample, noise)

    def get(self, seed: int, start: int, stop: int) -> np.ndarray:
        """Noise samples ``[start, stop)`` of ``seed`` as a [1, stop - start] view (no copy)."""
        first, table = self._windows.get(seed, (0, np.empty(0, np.float32)))
        if start < first or stop > first + table.size:
            blocks = range(start // BLOCK, -(-max(stop, start + self._min_length) // BLOCK))
            first, table = blocks.start * BLOCK, np.concatenate([noise_block(seed, k) for k in blocks])
        self._windows[seed] = (first, table)
        self._windows.move_to_end(seed)
        while len(self._windows) > self._max_seeds:
            self._windows.popitem(last=False)
        return table[start - first : stop - first].reshape(1, -1)
