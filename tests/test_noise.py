"""The seeded source noise: addressed by sample position, identical across windows, bounded in memory."""

from __future__ import annotations

import numpy as np

from kokoro_trt.runtime.noise import BLOCK, NoiseBank

SECOND = 24_000


def test_noise_at_a_position_does_not_depend_on_what_came_before():
    whole = NoiseBank(min_length=10 * BLOCK).get(7, 0, 10 * BLOCK)[0]
    bank = NoiseBank(min_length=BLOCK // 2)
    for start, stop in [(0, 1000), (3 * BLOCK - 5, 3 * BLOCK + 5), (BLOCK + 17, 4 * BLOCK), (10, 20)]:
        assert np.array_equal(bank.get(7, start, stop)[0], whole[start:stop])


def test_slices_inside_the_window_are_views():
    bank = NoiseBank(min_length=45 * SECOND)
    a, b = bank.get(0, 0, 30 * SECOND), bank.get(0, 10 * SECOND, 40 * SECOND)
    assert np.shares_memory(a, b) and a.shape == (1, 30 * SECOND)


def test_a_long_stream_keeps_memory_bounded():
    """Ten minutes streamed in 10 s chunks: the window moves, it never holds the whole stream."""
    bank = NoiseBank(min_length=45 * SECOND)
    largest = 0
    for start in range(0, 600 * SECOND, 10 * SECOND):
        piece = bank.get(0, start, start + 10 * SECOND)
        largest = max(largest, piece.base.size)
    assert largest <= 45 * SECOND + 2 * BLOCK


def test_seeds_differ_and_are_standard_normal():
    bank = NoiseBank(min_length=BLOCK)
    a, b = bank.get(1, 0, 4 * BLOCK)[0], bank.get(2, 0, 4 * BLOCK)[0]
    assert not np.array_equal(a, b)
    assert abs(float(a.mean())) < 0.02 and abs(float(a.std()) - 1) < 0.02
    assert np.array_equal(NoiseBank(min_length=BLOCK).get(1, 100, 200), bank.get(1, 100, 200))
