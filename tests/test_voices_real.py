"""Issue 5, measured on Kokoro-82M v1.0 itself: characters, emotions and prosody controls change the sound
the way they claim, and every English stock voice, character and emotion stays intelligible.

F0 is measured on the audio (YIN, ``tests/pitch.py``), not read from the prosody graph, so each check
proves that the change reaches the waveform. Measured values are printed (``pytest -s``).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from kokoro_trt.voices.presets import load_characters, load_emotions
from tests.pitch import active_rms, track_f0

pytestmark = pytest.mark.slow

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs back home to sleep."  # 17 words
LONG = (
    "The old lighthouse keeper climbed the winding stairs every evening at sunset. "
    "He polished the great lens until it gleamed, then lit the lamp and watched the ships."
)
VOICE_GROUPS = ("af_", "am_", "bf_", "bm_")
MAX_WER = 0.05


@pytest.fixture(scope="module")
def speak(real_model):
    """Cached synthesis: ``speak(voice, text=SENTENCE, emotion="neutral", **prosody) -> audio``."""

    @functools.cache
    def cached(voice, text, emotion, items):
        return real_model.synthesize(text, voice, emotion=emotion, **dict(items))

    def run(voice="af_heart", text=SENTENCE, emotion="neutral", **prosody):
        return cached(voice, text, emotion, tuple(sorted(prosody.items())))

    return run


def seconds(audio: np.ndarray) -> float:
    return audio.shape[0] / 24_000


def test_rick_is_lower_than_morty_and_summer(speak):
    median = {name: float(np.median(track_f0(speak(name)))) for name in ("rick_c137", "morty", "summer")}
    print("median F0 (Hz):", {k: round(v, 1) for k, v in median.items()})
    assert median["rick_c137"] < median["morty"] and median["rick_c137"] < median["summer"], median


def test_excited_is_livelier_and_sad_is_lower_and_slower(speak):
    stats = {}
    for emotion in ("neutral", "excited", "sad"):
        audio = speak(emotion=emotion)
        f0 = track_f0(audio)
        stats[emotion] = {
            "mean": f0.mean(),
            "std": f0.std(),
            "log_std": np.log(f0).std(),
            "s": seconds(audio),
        }
    print("emotion F0/duration:", {e: {k: round(float(v), 3) for k, v in s.items()} for e, s in stats.items()})
    neutral, excited, sad = stats["neutral"], stats["excited"], stats["sad"]
    assert excited["std"] > neutral["std"] and excited["log_std"] > neutral["log_std"]
    assert excited["s"] < neutral["s"]
    assert sad["mean"] < neutral["mean"] and sad["s"] > neutral["s"]


@pytest.mark.parametrize("voice", ["af_heart", "am_michael"])
def test_energy_changes_loudness(speak, voice):
    level = {energy: active_rms(speak(voice, energy=energy)) for energy in (0.5, 1.0, 1.5)}
    print(f"{voice} active RMS by energy:", {k: round(v, 4) for k, v in level.items()})
    assert level[1.5] > 1.08 * level[1.0], level  # measured about +16 %
    assert level[0.5] < 0.92 * level[1.0], level  # measured about -17 %


@pytest.mark.parametrize("shift, ratio", [(12, 2.0), (-12, 0.5)])
def test_pitch_shift_moves_median_f0_by_an_octave(speak, shift, ratio):
    base = np.median(track_f0(speak()))
    moved = np.median(track_f0(speak(pitch_shift=shift)))
    print(f"pitch_shift {shift:+d}: median F0 {base:.1f} -> {moved:.1f} Hz (x{moved / base:.3f})")
    assert moved / base == pytest.approx(ratio, rel=0.15)


@pytest.mark.parametrize(
    "speed, ratio",
    [(0.8, 1.25), (1.2, 1 / 1.2)],
)
def test_speed_scales_duration(speak, speed, ratio):
    base, changed = seconds(speak(text=LONG)), seconds(speak(text=LONG, speed=speed))
    print(f"speed {speed}: {base:.3f} s -> {changed:.3f} s (x{changed / base:.3f}, expected x{ratio:.3f})")
    assert changed / base == pytest.approx(ratio, rel=0.05)


def _groups(voices_dir) -> dict[str, list[tuple[str, str]]]:
    """(voice, emotion) pairs per group."""
    stock = sorted(p.stem for p in voices_dir.glob("*.pt"))
    groups = {g: [(v, "neutral") for v in stock if v.startswith(g)] for g in VOICE_GROUPS}
    groups["characters"] = [(name, "neutral") for name in sorted(load_characters())]
    groups["emotions"] = [("af_heart", name) for name in sorted(load_emotions())]
    return groups


@pytest.mark.parametrize("group", [*VOICE_GROUPS, "characters", "emotions"])
def test_every_voice_character_and_emotion_is_intelligible(speak, asr, voices_dir, group):
    """WER pooled over the group (one 17-word sentence each, so one wrong word alone is 5.9 %); each item
    may miss at most one word."""
    items = _groups(voices_dir)[group]
    assert items, group
    words = len(SENTENCE.split())
    errors = {}
    for voice, emotion in items:
        hypothesis = asr.transcribe(speak(voice, emotion=emotion))
        errors[f"{voice}/{emotion}"] = round(asr.word_error_rate(SENTENCE, hypothesis) * words)
        if errors[f"{voice}/{emotion}"]:
            print(f"  {voice}/{emotion}: {hypothesis!r}")
    pooled = sum(errors.values()) / (words * len(items))
    print(f"{group}: pooled WER {pooled:.1%} over {len(items)} items; word errors {errors}")
    assert pooled <= MAX_WER, errors
    assert max(errors.values()) <= 1, errors
