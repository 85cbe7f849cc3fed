"""Prosody controls and the numpy transforms the runtime applies between the prosody predictor and decoder.

Kokoro's prosody predictor emits two curves per frame: ``F0`` (pitch, Hz; near 0 where unvoiced) and
``N``. We take ``N`` to be what StyleTTS 2, Kokoro's parent model, trains it on: the natural log of each
frame's spectral magnitude norm (``log ||mel||_2`` of the linear-magnitude mel spectrum). Scaling a
frame's magnitude by ``energy`` therefore adds ``ln(energy)`` to ``N``.
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
    if not (math.isfinite(value) and low <= value <= high):
        raise InvalidInputError(f"{name}={value:g} is out of range; it must be in [{low:g}, {high:g}].")
    return float(value)


@dataclass(frozen=True)
class Prosody:
    """How to speak; each field is checked against :data:`LIMITS`.

    ``speed``: tempo factor; ``pitch_shift``: semitones; ``pitch_range``: factor on the F0 spread (log
    domain); ``energy``: factor on frame magnitudes.
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
    """Scale every frame's magnitude by ``energy``: ``N + ln(energy)`` on Kokoro's log-norm ``N`` curve."""
    energy = check_field("energy", energy)
    n = np.asarray(n)
    return (n + math.log(energy)).astype(np.result_type(n.dtype, np.float32))
