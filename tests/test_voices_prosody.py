"""Prosody validation and the F0 / N transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kokoro_trt.errors import InvalidInputError
from kokoro_trt.voices import LIMITS, Prosody, apply_energy, apply_pitch

F0 = np.array([[0.0, 5.0, 100.0, 200.0, 400.0, 0.0]], dtype=np.float32)  # two unvoiced edges, one 5 Hz
VOICED = F0 > 10


def test_prosody_defaults_and_coercion() -> None:
    assert Prosody() == Prosody(speed=1.0, pitch_shift=0.0, pitch_range=1.0, energy=1.0)
    prosody = Prosody(speed=2, pitch_shift=np.float32(-3.5))
    assert type(prosody.speed) is float and prosody.pitch_shift == -3.5


@pytest.mark.parametrize("field", sorted(LIMITS))
@pytest.mark.parametrize("side", [0, 1])
def test_out_of_range_names_field_value_and_range(field: str, side: int) -> None:
    low, high = LIMITS[field]
    bad = low - 0.01 if side == 0 else high + 0.01
    with pytest.raises(InvalidInputError) as info:
        Prosody(**{field: bad})
    message = str(info.value)
    assert field in message and f"{bad:g}" in message and f"[{low:g}, {high:g}]" in message
    Prosody(**{field: low if side == 0 else high})  # the bounds themselves are fine


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "fast", None, True])
def test_non_numbers_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="speed"):
        Prosody(speed=bad)  # type: ignore[arg-type]


def test_expected_ranges() -> None:
    assert LIMITS == {
        "speed": (0.5, 2.0),
        "pitch_shift": (-12.0, 12.0),
        "pitch_range": (0.25, 3.0),
        "energy": (0.5, 2.0),
    }


def test_pitch_shift_scales_voiced_frames_only() -> None:
    up = apply_pitch(F0, pitch_shift=12)
    np.testing.assert_allclose(up[VOICED], F0[VOICED] * 2, rtol=1e-6)
    np.testing.assert_array_equal(up[~VOICED], F0[~VOICED])
    np.testing.assert_allclose(apply_pitch(F0, pitch_shift=-7)[VOICED], F0[VOICED] * 2 ** (-7 / 12), rtol=1e-6)
    assert up.dtype == np.float32 and F0[0, 2] == 100.0  # input untouched


def test_pitch_range_scales_log_f0_around_the_voiced_mean() -> None:
    wide = apply_pitch(F0, pitch_range=2.0)  # voiced geometric mean is 200 Hz
    np.testing.assert_allclose(wide[VOICED], [50.0, 200.0, 800.0], rtol=1e-6)
    flat = apply_pitch(F0, pitch_range=0.5)
    np.testing.assert_allclose(flat[VOICED], [200 / math.sqrt(2), 200.0, 200 * math.sqrt(2)], rtol=1e-6)
    both = apply_pitch(F0, pitch_shift=12, pitch_range=2.0)
    np.testing.assert_allclose(both[VOICED], [100.0, 400.0, 1600.0], rtol=1e-6)


def test_pitch_mean_is_per_row() -> None:
    f0 = np.array([[100.0, 400.0], [50.0, 50.0]])
    out = apply_pitch(f0, pitch_range=0.5)
    np.testing.assert_allclose(out, [[141.4213562, 282.8427125], [50.0, 50.0]])
    assert out.dtype == np.float64


def test_voiced_frames_stay_voiced() -> None:
    f0 = np.array([11.0, 400.0], dtype=np.float32)
    assert (apply_pitch(f0, pitch_shift=-12, pitch_range=3.0) > 10).all()


def test_pitch_arguments_are_validated() -> None:
    with pytest.raises(InvalidInputError, match="pitch_shift"):
        apply_pitch(F0, pitch_shift=13)
    with pytest.raises(InvalidInputError, match="pitch_range"):
        apply_pitch(F0, pitch_range=0)


@settings(max_examples=60, deadline=None)
@given(
    f0=hnp.arrays(np.float32, st.integers(1, 40), elements=st.one_of(st.just(0.0), st.floats(0, 600, width=32))),
    shift=st.floats(-12, 12),
    spread=st.floats(0.25, 3.0),
)
def test_pitch_properties(f0: np.ndarray, shift: float, spread: float) -> None:
    out = apply_pitch(f0, shift, spread)
    voiced = f0 > 10
    assert out.shape == f0.shape and np.isfinite(out).all()
    np.testing.assert_array_equal(out[~voiced], f0[~voiced])
    assert (out[voiced] > 10).all()
    order = np.argsort(f0[voiced], kind="stable")
    assert (np.diff(out[voiced][order]) >= 0).all()  # a monotonic map: contour shape is kept


def test_energy_scales_the_speech_part_of_n() -> None:
    n = np.array([[-9.0, -2.0, 0.0, 1.5, 6.0]], dtype=np.float32)
    louder = apply_energy(n, 1.5)
    np.testing.assert_allclose(louder, [[-9.0, -2.0, 0.0, 2.25, 9.0]], rtol=1e-6)  # pauses (N <= 0) untouched
    np.testing.assert_allclose(apply_energy(n, 0.5), [[-9.0, -2.0, 0.0, 0.75, 3.0]], rtol=1e-6)
    assert louder.dtype == np.float32 and louder is not n
    np.testing.assert_array_equal(apply_energy(n, 1.0), n)
    assert (np.diff(apply_energy(np.linspace(-10, 10, 41), 0.5)) > 0).all()  # still monotonic in N
    with pytest.raises(InvalidInputError, match="energy"):
        apply_energy(n, 2.5)
