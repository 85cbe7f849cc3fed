"""Prosody controls and the numpy transforms the runtime applies between the prosody predictor and decoder.

Kokoro's prosody predictor emits two curves per frame: ``F0`` (pitch, Hz; near 0 where unvoiced) and
``N``. StyleTTS 2, Kokoro's parent model, trains ``N`` on the log of each frame's mel magnitude norm, but
the decoder does not treat it as a gain: on real Kokoro-82M v1.0 speech ``N`` sits near -9 in pauses and
+5..+9 in speech, and adding ``ln(1.5)`` to it raises the output RMS by under 2 %. Loudness follows ``N``
only weakly (about 4-5 % RMS per unit of ``N``), so :func:`apply_energy` scales the speech part of the
curve instead (see there); it reads as vocal effort and level together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ..errors import InvalidInputError

LIMITS: dict[str, tuple[float, float]] = {
    "speed": (0.5, 2.0),
    "pitch_shift": (-12.0, 12.0),
    "pitch_range": (0.25, 3.0),
    "energy": (0.5, 2.0),
}
"""Inclusive range of each :class:`Prosody` field."""

VOICED_HZ = 10.0
"""Frames with F0 above this are voiced (the threshold of Kokoro's harmonic source)."""


def check_field(name: str, value: object) -> float:
    """``value`` as a float if it lies in ``LIMITS[name]``, else :class:`InvalidInputError`."""
    low, high = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidInputError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}.")
    if not low <= value <= high:  # false for NaN too; no float() that a huge int would overflow
        raise InvalidInputError(f"{name}={value!r:.40} is out of range; it must be in [{low:g}, {high:g}].")
    return float(value)


@dataclass(frozen=True)
class Prosody:
    """How to speak; each field is checked against :data:`LIMITS`.

    ``speed``: tempo factor; ``pitch_shift``: semitones; ``pitch_range``: factor on the F0 spread (log
    domain); ``energy``: loudness/effort factor on the speech part of ``N`` (see :func:`apply_energy`).
    """

    speed: float = 1.0
    pitch_shift: float = 0.0
    pitch_range: float = 1.0
    energy: float = 1.0

    def __post_init__(self) -> None:
        for field in fields(self):
            object.__setattr__(self, field.name, check_field(field.name, getattr(self, field.name)))


def apply_pitch(f0: np.ndarray, pitch_shift: float = 0.0, pitch_range: float = 1.0) -> np.ndarray:
    """Shift and stretch an F0 curve (Hz, time on the last axis); returns a new array.

    Only voiced frames (F0 > :data:`VOICED_HZ`) change: their log-F0 is scaled by ``pitch_range`` around the
    mean log-F0 of the voiced frames of the same row, then multiplied by ``2 ** (pitch_shift / 12)``.
    Voiced frames stay voiced (results are floored just above the threshold).
    """
    pitch_shift = check_field("pitch_shift", pitch_shift)
    pitch_range = check_field("pitch_range", pitch_range)
    f0 = np.asarray(f0)
    f0 = f0.astype(np.result_type(f0.dtype, np.float32), copy=True)
    voiced = f0 > VOICED_HZ
    if (pitch_shift == 0.0 and pitch_range == 1.0) or not voiced.any():
        return f0
    log_f0 = np.log(np.where(voiced, f0, 1.0), dtype=np.float64)
    count = np.maximum(voiced.sum(axis=-1, keepdims=True), 1)
    mean = np.where(voiced, log_f0, 0.0).sum(axis=-1, keepdims=True) / count
    shifted = np.exp(mean + (log_f0 - mean) * pitch_range + pitch_shift * math.log(2.0) / 12.0)
    floor = np.nextafter(f0.dtype.type(VOICED_HZ), f0.dtype.type(np.inf))
    return np.where(voiced, np.maximum(shifted, floor), f0).astype(f0.dtype)


def apply_energy(n: np.ndarray, energy: float = 1.0) -> np.ndarray:
    """Louder (``energy > 1``) or softer (``< 1``) speech: ``N + (energy - 1) * max(N, 0)``; returns a new array.

    The positive (speech) part of Kokoro's ``N`` curve is multiplied by ``energy``; pause frames (``N <= 0``)
    are left alone so silence stays silent. ``energy`` is not an exact gain: measured on Kokoro-82M v1.0
    (tests/test_voices_real.py), 1.5 raises the RMS by about 16 %, 2.0 by about 32 % and 0.5 lowers it by
    about 17 %, with speech staying intelligible across the whole range.
    """
    energy = check_field("energy", energy)
    n = np.asarray(n)
    n = n.astype(np.result_type(n.dtype, np.float32), copy=True)
    if energy == 1.0:
        return n
    return (n + (energy - 1.0) * np.maximum(n, 0)).astype(n.dtype)
