"""The offline ASR helper itself: text normalisation, WER, resampling, and real recognition."""

from __future__ import annotations

import numpy as np
import pytest

from tests.asr import WHISPER_PACKAGES, espeak_speech, normalize_text, resample, whisper_dir, word_error_rate

SENTENCE = "The quick brown fox jumps over the lazy dog. Please call me tomorrow morning after breakfast."


@pytest.mark.parametrize(
    ("reference", "hypothesis", "wer"),
    [
        ("the cat sat", "the cat sat", 0.0),
        ("The cat, sat!", "the CAT sat", 0.0),
        ("I have 3 apples", "i have three apples", 0.0),
        ("twenty-one pilots", "21 pilots", 0.0),
        ("the 2nd of 1,000 at 3.5%", "the second of one thousand at three point five percent", 0.0),
        ("don't stop", "dont stop", 0.0),
        ("the cat sat down", "the dog sat down", 0.25),  # substitution
        ("the cat sat down", "the cat down", 0.25),  # deletion
        ("the cat sat down", "the big cat sat down", 0.25),  # insertion
        ("a b", "c d e f", 2.0),  # insertions can push WER past 1
        ("", "", 0.0),
        ("", "noise", 1.0),
        ("hello world", "", 1.0),
    ],
)
def test_word_error_rate(reference: str, hypothesis: str, wer: float) -> None:
    assert word_error_rate(reference, hypothesis) == pytest.approx(wer)


def test_normalize_text_spells_numbers() -> None:
    words = ["in", "one", "thousand", "nine", "hundred", "and", "ninety", "nine", "forty", "two", "people"]
    assert normalize_text("In 1999, 42 people.") == words


@pytest.mark.parametrize("src", [24_000, 22_050, 44_100])
def test_resample_keeps_tones_and_removes_aliases(src: int) -> None:
    t = np.arange(src) / src  # one second
    out = resample(np.sin(2 * np.pi * 1000 * t), src, 16_000)
    assert len(out) == 16_000 and out.dtype == np.float32
    ideal = np.sin(2 * np.pi * 1000 * np.arange(16_000) / 16_000)
    assert np.max(np.abs(out - ideal)[200:-200]) < 1e-2
    alias = resample(np.sin(2 * np.pi * 10_000 * t), src, 16_000)  # above the 8 kHz Nyquist limit
    assert np.sqrt(np.mean(alias[200:-200] ** 2)) < 0.005  # > 43 dB down (RMS of the input: 0.707)


def test_resample_identity_and_mono_only() -> None:
    x = np.linspace(-1, 1, 100)
    np.testing.assert_array_equal(resample(x, 16_000, 16_000), x.astype(np.float32))
    with pytest.raises(ValueError, match="mono"):
        resample(np.zeros((2, 100)), 24_000, 16_000)


def test_whisper_dir_is_assembled_once(tmp_path) -> None:
    from importlib import resources

    parts = [resources.files(p) / "data" / f"model.bin.part{i}" for i, p in enumerate(WHISPER_PACKAGES, 1)]
    (tmp_path / "whisper-base-ct2").mkdir()
    (tmp_path / "whisper-base-ct2" / "model.bin").write_bytes(b"interrupted")  # rebuilt, not trusted
    folder = whisper_dir(tmp_path)
    names = ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    assert sorted(p.name for p in folder.iterdir()) == names
    model = (folder / "model.bin").read_bytes()
    assert model == b"".join(p.read_bytes() for p in parts)
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert whisper_dir(tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no temporary folders left


def test_espeak_speech_is_audio() -> None:
    audio, rate = espeak_speech("Hello world.")
    assert rate > 8000 and audio.dtype == np.float32
    assert 0.3 < len(audio) / rate < 3 and 0.1 < np.abs(audio).max() <= 1.0


@pytest.mark.slow
def test_asr_understands_english_speech(asr) -> None:
    audio, rate = espeak_speech(SENTENCE)
    assert asr.word_error_rate(SENTENCE, asr.transcribe(audio, rate)) <= 0.15
    at_24k = resample(audio, rate, 24_000)  # the default rate, Kokoro's
    assert asr.word_error_rate(SENTENCE, asr.transcribe(at_24k)) <= 0.15


@pytest.mark.slow
def test_asr_does_not_invent_the_reference(asr) -> None:
    audio, rate = espeak_speech("Seven green bottles are standing on the wall.")
    assert asr.word_error_rate(SENTENCE, asr.transcribe(audio, rate)) > 0.8
