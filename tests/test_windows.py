"""Decoder windows: a long chunk rendered in bounded decoder calls, cut where the model is quiet."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kokoro_trt.runtime.windows import decode_windows, frame_energy, window_frames


def _covers(windows: list[tuple[int, int]], frames: int) -> bool:
    return windows[0][0] == 0 and windows[-1][1] == frames and all(a[1] == b[0] for a, b in itertools.pairwise(windows))


@pytest.mark.parametrize("frames", [1, 2, 239, 240, 241, 1000, 5003])
@pytest.mark.parametrize("limit", [2, 3, 80, 240])
def test_windows_cover_every_frame_once_and_none_is_too_long(frames: int, limit: int) -> None:
    energy = np.random.default_rng(frames * limit).standard_normal(frames).astype(np.float32)
    windows = decode_windows(energy, limit)
    assert _covers(windows, frames)
    assert all(0 < stop - start <= limit for start, stop in windows)


def test_no_limit_is_one_window() -> None:
    assert decode_windows(np.zeros(5000, np.float32), None) == [(0, 5000)]


def test_cuts_fall_on_the_quietest_frame_of_each_windows_second_half() -> None:
    energy = np.ones(1000, np.float32)
    pauses = [70, 150, 230, 290, 420, 700, 780]  # quiet frames
    energy[pauses] = -3.0
    energy[30] = -9.0  # quieter, but in a first half: never chosen
    windows = decode_windows(energy, 100)
    # Where a window's second half has no pause (from 290, 420, 520, ...), the cut is the earliest frame
    # allowed: the first of equally quiet ones.
    assert [stop for _, stop in windows[:-1]] == [
        70,
        150,
        230,
        290,
        340,
        420,
        470,
        520,
        570,
        620,
        700,
        780,
        830,
        880,
        930,
    ]


def test_a_window_of_under_two_frames_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        decode_windows(np.zeros(10, np.float32), 1)


def test_frame_energy_takes_the_louder_of_each_frames_two_values() -> None:
    n = np.array([[0.0, 1.0, 5.0, -2.0, -1.0, -3.0]], np.float32)
    assert frame_energy(n).tolist() == [1.0, 5.0, -1.0]


def test_window_seconds_become_whole_frames() -> None:
    assert window_frames(None, 600) is None
    assert window_frames(6, 600) == 240 and window_frames(1.01, 600) == 40
