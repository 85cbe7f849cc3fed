"""KokoroModel on ONNX Runtime CPU: buffers, determinism, errors, chunking, streaming."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import tracemalloc
from typing import ClassVar

import numpy as np
import pytest

from kokoro_trt import BackendError, InvalidInputError, OutputBufferError, VoiceNotFoundError
from kokoro_trt.runtime import load_kokoro

TEXT = "Hello world. This is a short test of the runtime, with two sentences."
LONG = " ".join(f"Sentence number {i} talks about the weather and the sea." for i in range(1, 26))


def test_synthesize_returns_float32_in_range(tiny_model):
    audio = tiny_model.synthesize(TEXT)
    assert isinstance(audio, np.ndarray) and audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size % 600 == 0 and audio.size > 0
    assert np.abs(audio).max() <= 1.0 and np.abs(audio).max() > 0


def test_same_inputs_and_seed_are_bit_identical(tiny_model):
    first = tiny_model.synthesize(TEXT, seed=7)
    assert np.array_equal(first, tiny_model.synthesize(TEXT, seed=7))
    assert np.array_equal(tiny_model.synthesize(TEXT), tiny_model.synthesize(TEXT, seed=None))
    assert not np.array_equal(first, tiny_model.synthesize(TEXT, seed=8))


def test_bit_identical_across_processes(tiny_model, tiny_graphs, voices_dir, tmp_path):
    script = (
        "import sys, numpy as np; from kokoro_trt.runtime import load_kokoro;"
        f"m = load_kokoro('cpu', graphs=r'{tiny_graphs.directory}', voices_dir=r'{voices_dir}');"
        f"np.save(r'{tmp_path / 'a.npy'}', m.synthesize({TEXT!r}, seed=3))"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    assert np.array_equal(np.load(tmp_path / "a.npy"), tiny_model.synthesize(TEXT, seed=3))


def test_writes_into_numpy_buffer_and_returns_a_view(tiny_model):
    buffer = np.full(45 * 24000, np.nan, dtype=np.float32)
    view = tiny_model.synthesize(TEXT, output=buffer)
    assert np.shares_memory(view, buffer) and view.base is buffer
    assert np.array_equal(view, tiny_model.synthesize(TEXT))
    assert np.isnan(buffer[view.size :]).all()


def test_writes_into_torch_buffer(tiny_model):
    torch = pytest.importorskip("torch")
    buffer = torch.zeros(45 * 24000)
    view = tiny_model.synthesize(TEXT, output=buffer)
    assert isinstance(view, torch.Tensor) and view.data_ptr() == buffer.data_ptr()
    assert np.array_equal(view.numpy(), tiny_model.synthesize(TEXT))
    assert isinstance(tiny_model.synthesize(TEXT, return_tensors="pt"), torch.Tensor)


def test_writes_into_array_interface_and_dlpack_objects(tiny_model):
    class Exposed:
        def __init__(self, array):
            self.array = array
            self.__array_interface__ = array.__array_interface__

        def __getitem__(self, key):
            return self.array[key]

    backing = np.zeros(45 * 24000, dtype=np.float32)
    view = tiny_model.synthesize(TEXT, output=Exposed(backing))
    assert np.shares_memory(view, backing)
    assert np.array_equal(backing[: view.size], tiny_model.synthesize(TEXT))


def _peak_allocation(model, text: str, **options) -> tuple[int, np.ndarray]:
    tracemalloc.start()
    try:
        audio = model.synthesize(text, **options)
        return tracemalloc.get_traced_memory()[1], audio
    finally:
        tracemalloc.stop()


def test_no_audio_sized_allocation_per_call(tiny_model):
    """Same text at half speed: twice the audio, and no more memory allocated for it."""
    buffer = np.zeros(45 * 24000, dtype=np.float32)
    for speed in (1.0, 0.5):  # warm up: noise table, voice cache, G2P
        tiny_model.synthesize(LONG[:250], speed=speed, output=buffer)
    peak_fast, fast = _peak_allocation(tiny_model, LONG[:250], output=buffer)
    peak_slow, slow = _peak_allocation(tiny_model, LONG[:250], speed=0.5, output=buffer)
    extra_audio = slow.nbytes - fast.nbytes
    assert extra_audio > 1_000_000
    assert peak_slow - peak_fast < 0.05 * extra_audio, (peak_fast, peak_slow, extra_audio)
    peak_alloc, _ = _peak_allocation(tiny_model, LONG[:250], speed=0.5)
    assert peak_alloc >= slow.nbytes  # without a buffer the audio is allocated, and the probe sees it


def test_streaming_into_a_buffer_allocates_nothing_audio_sized(tiny_model):
    """Same text at half speed: twice the audio, no more memory allocated for it. Pieces are decoded with
    their join context in a scratch buffer the model keeps (grown once), not in one of their own."""
    buffer = np.zeros(45 * 24000, dtype=np.float32)

    def peak(speed: float) -> tuple[int, int]:
        tracemalloc.start()
        try:
            chunks = tiny_model.stream(LONG[:250], output=buffer, speed=speed, first_chunk_tokens=10)
            samples = sum(len(c.audio) for c in chunks)
            return tracemalloc.get_traced_memory()[1], samples
        finally:
            tracemalloc.stop()

    for speed in (1.0, 0.5):  # warm up: noise table, voice cache, G2P, the scratch
        peak(speed)
    (peak_fast, fast), (peak_slow, slow) = peak(1.0), peak(0.5)
    extra_audio = 4 * (slow - fast)
    assert extra_audio > 1_000_000
    assert peak_slow - peak_fast < 0.05 * extra_audio, (peak_fast, peak_slow, extra_audio)


def test_bad_buffers_fail_before_any_work(tiny_model, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("backend called")

    monkeypatch.setattr(tiny_model.backend, "durations", must_not_run)
    for bad in (np.zeros(1000, np.float64), np.zeros((10, 100), np.float32), np.zeros(2000, np.float32)[::2]):
        with pytest.raises(OutputBufferError):
            tiny_model.synthesize(TEXT, output=bad)

    class DeviceBuffer:
        __cuda_array_interface__: ClassVar[dict] = {
            "data": (1234, False),
            "shape": (1000,),
            "typestr": "<f4",
            "version": 3,
        }

    with pytest.raises(OutputBufferError, match="cuda"):
        tiny_model.synthesize(TEXT, output=DeviceBuffer())


def test_too_small_buffer_is_rejected_before_decoding(tiny_model, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("decoder called")

    monkeypatch.setattr(tiny_model.backend, "decode", must_not_run)
    with pytest.raises(OutputBufferError, match="needs"):
        tiny_model.synthesize(TEXT, output=np.zeros(600, np.float32))


def test_input_errors_are_typed(tiny_model):
    with pytest.raises(InvalidInputError):
        tiny_model.synthesize("   ")
    with pytest.raises(VoiceNotFoundError, match="af_heart"):
        tiny_model.synthesize(TEXT, voice_id="af_hart")
    with pytest.raises(VoiceNotFoundError, match="excited"):
        tiny_model.synthesize(TEXT, emotion="excitd")
    with pytest.raises(InvalidInputError, match="speed"):
        tiny_model.synthesize(TEXT, speed=5.0)
    with pytest.raises(InvalidInputError):
        tiny_model.synthesize(TEXT, seed=-1)
    with pytest.raises(InvalidInputError):
        load_kokoro("gpu0")


def test_backend_failure_is_typed_and_the_next_call_works(tiny_model, monkeypatch):
    expected = tiny_model.synthesize(TEXT)
    session = tiny_model.backend.sessions["decoder"]

    class Exploding:
        def __getattr__(self, name):
            return getattr(session, name)

        def run_with_iobinding(self, binding):
            raise RuntimeError("Failed to allocate memory for requested buffer of size 123")

    monkeypatch.setitem(tiny_model.backend.sessions, "decoder", Exploding())
    with pytest.raises(BackendError, match="decoder stage"):
        tiny_model.synthesize(TEXT)
    monkeypatch.undo()
    assert np.array_equal(tiny_model.synthesize(TEXT), expected)


def test_long_script_is_chunked_without_loss(tiny_model):
    speech = tiny_model.speak(LONG, max_seconds=None)
    spoken = [w.word for w in speech.words]
    assert spoken == [w.strip(".,") for w in LONG.split()]
    assert all(a.end <= b.start + 1e-9 for a, b in zip(speech.words, speech.words[1:]))
    assert speech.words[-1].end <= speech.seconds + 1e-9 and not speech.truncated


def test_over_long_script_is_cut_at_a_sentence(tiny_model, caplog):
    with caplog.at_level(logging.WARNING):
        speech = tiny_model.speak(LONG, max_seconds=10.0)
    assert speech.truncated and 0 < speech.seconds <= 10.0
    assert f"Script truncated to fit 10s duration (original: {len(LONG.split())} words)" in caplog.text
    last = speech.words[-1].word
    assert last == "sea", f"cut mid-sentence after {last!r}"


def test_stream_yields_the_same_audio_as_speak(tiny_model):
    chunks = list(tiny_model.stream(LONG[:600], first_chunk_tokens=40))
    assert len(chunks) >= 2
    assert len(chunks[0].audio) < len(chunks[1].audio) or len(chunks) > 2
    streamed = np.concatenate([c.audio for c in chunks])
    assert [c.start_sample for c in chunks] == list(np.cumsum([0] + [len(c.audio) for c in chunks[:-1]]))
    buffer = np.zeros(45 * 24000, np.float32)
    in_place = np.concatenate([c.audio for c in tiny_model.stream(LONG[:600], output=buffer, first_chunk_tokens=40)])
    assert np.array_equal(streamed, in_place)


def test_no_stage_keeps_the_cores_after_its_run(tiny_model):
    """Every session's threads spin between its ops and sleep once its run ends: a pool spinning on
    would take the cores from the stage that runs next (a stream's stages come back to back)."""
    for stage, session in tiny_model.backend.sessions.items():
        options = session.get_session_options()
        assert options.get_session_config_entry("session.force_spinning_stop") == "1", stage
    ids = tiny_model.ids(tiny_model.phonemize("Hello there, this is a test."))
    runs = {
        "duration": lambda: tiny_model.durations(ids),
        "decoder, after the others": lambda: tiny_model.speak("Hello there, this is a test."),
    }

    def idle_cpu() -> float:
        """CPU this process uses in 0.3 s of waiting (all its threads)."""
        start = time.process_time()
        time.sleep(0.3)
        return time.process_time() - start

    before = idle_cpu()  # whatever else this test process runs meanwhile
    for last, run in runs.items():
        run()
        spent = idle_cpu() - before
        assert spent < 0.01, f"{spent * 1000:.0f} ms more CPU in 0.3 s idle after the {last} run"


def test_stages_are_public(tiny_model):
    phonemes = tiny_model.phonemize("Hello world.")
    ids = tiny_model.ids(phonemes)
    durations = tiny_model.durations(ids)
    assert len(durations) == len(ids) + 2 and (durations >= 1).all()
    speech = tiny_model.speak(phonemes, phonemes=True)
    kept_lead = min(int(durations[0]), 2)  # of the start token's silence only the last 50 ms is rendered
    assert speech.audio.size == (durations[1:].sum() + kept_lead) * 600


def test_decode_window_seconds_bounds_every_decoder_call(tiny_model, monkeypatch):
    """``decode_window_seconds=1``: no decoder call gets more than 40 frames (1 s); the audio keeps its
    length and its determinism."""
    from kokoro_trt.runtime import KokoroModel

    windowed_model = KokoroModel(
        tiny_model.backend,
        config=tiny_model.config,
        frontend=tiny_model.frontend,
        voices=tiny_model.voices,
        decode_window_seconds=1,
    )
    calls: list[int] = []
    decode = tiny_model.backend.decode

    def recorded(features, frame_index, *rest):
        calls.append(frame_index.shape[0])
        return decode(features, frame_index, *rest)

    monkeypatch.setattr(tiny_model.backend, "decode", recorded)
    whole = tiny_model.speak(LONG[:400], seed=3).audio
    chunk_calls, calls[:] = len(calls), []
    windowed = windowed_model.speak(LONG[:400], seed=3).audio
    assert max(calls) <= 40 and len(calls) > chunk_calls
    assert sum(calls) * 600 == windowed.size == whole.size
    assert np.array_equal(windowed_model.speak(LONG[:400], seed=3).audio, windowed)


@pytest.mark.parametrize("seconds", [0.5, 0, -1, True, "6", float("nan"), float("inf")])
def test_a_bad_decode_window_fails_before_loading(seconds, tmp_path):
    """Checked first: the graphs folder here does not exist, and that is not what is reported."""
    with pytest.raises(InvalidInputError, match="decode_window_seconds"):
        load_kokoro("cpu", graphs=tmp_path / "absent", decode_window_seconds=seconds)


def test_memory_does_not_grow_with_varying_lengths(tiny_model):
    import resource

    texts = [LONG[: 12 + (7 * i) % 50] for i in range(50)]  # 50 calls, each of a different length
    for text in texts[:10]:
        tiny_model.synthesize(text)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for text in texts:
        tiny_model.synthesize(text)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 64, f"peak RSS grew by {grown_mib:.0f} MiB over 50 calls"


def test_non_string_text_is_rejected(tiny_model):
    with pytest.raises(InvalidInputError, match="string"):
        tiny_model.synthesize(b"bytes are not text")


def test_pause_markup_inserts_exact_silence(tiny_model):
    before, after = tiny_model.speak("Hello there."), tiny_model.speak("How are you?")
    speech = tiny_model.speak("Hello there. [pause:1.5s] How are you?")
    gap = 36_000
    # Every chunk opens with the same 50 ms of its leading silence, alone or after a pause.
    assert len(speech.audio) == len(before.audio) + gap + len(after.audio)
    assert not speech.audio[len(before.audio) : len(before.audio) + gap].any()
    shift = (len(before.audio) + gap) / 24000
    assert [w.word for w in speech.words] == ["Hello", "there", "How", "are", "you"]
    assert speech.words[2].start == pytest.approx(after.words[0].start + shift)
    short = tiny_model.synthesize("Hello there. [pause:500ms] How are you?")
    assert len(short) == len(speech.audio) - 24_000


def test_pause_markup_in_stream(tiny_model):
    chunks = list(tiny_model.stream("Hello there. [pause:1s] How are you?"))
    silent = [c for c in chunks if not c.text]
    assert len(silent) == 1 and len(silent[0].audio) == 24_000 and not silent[0].audio.any()
    assert chunks[-1].words[0].start >= (silent[0].start_sample + 24_000) / 24000


@pytest.mark.parametrize("bad", ["[pause:-1s]", "[pause:11s]", "[pause:soon]"])
def test_bad_pause_is_rejected(tiny_model, bad):
    with pytest.raises(InvalidInputError, match="pause"):
        tiny_model.synthesize(f"Hello {bad} there.")


def test_lexicon_applies_to_one_call_only(tiny_model):
    import threading

    text = "Kokoro speaks softly."
    plain = tiny_model.speak(text).phonemes
    other, other_plain = "Kokoro sings loudly.", tiny_model.speak("Kokoro sings loudly.").phonemes
    seen: list[str] = []
    worker = threading.Thread(target=lambda: seen.extend(tiny_model.speak(other).phonemes for _ in range(3)))
    worker.start()
    with_entry = tiny_model.speak(text, lexicon={"Kokoro": "kˈOkəɹO"}).phonemes
    worker.join()
    assert with_entry.replace("kˈOkəɹO", tiny_model.phonemize("Kokoro")) == plain != with_entry
    assert tiny_model.speak(text).phonemes == plain
    assert seen == [other_plain] * 3
    with pytest.raises(InvalidInputError, match="'Kokoro'"):
        tiny_model.speak(text, lexicon={"Kokoro": "k☃"})


def test_normalization_options_apply_to_one_call_only(tiny_model):
    from kokoro_trt.text import NormalizationOptions

    text = "Visit example.com today."
    plain = tiny_model.speak(text).phonemes
    off = tiny_model.speak(text, normalization=NormalizationOptions(url_normalization=False)).phonemes
    assert off != plain and "dˈɑt" not in off and "dˈɑt" in plain
    assert tiny_model.speak(text).phonemes == plain
    with pytest.raises(InvalidInputError, match="NormalizationOptions"):
        tiny_model.speak(text, normalization={"url_normalization": False})


def test_lang_picks_the_english_front_end_for_one_call(tiny_model):
    american = tiny_model.phonemize("Water the tomatoes.")
    british = tiny_model.phonemize("Water the tomatoes.", lang="en-gb")
    assert american != british and "ɹ" in american  # rhotic American, non-rhotic British
    assert tiny_model.speak("Water.", lang="en-gb").phonemes != tiny_model.speak("Water.").phonemes
    assert tiny_model.phonemize("Water the tomatoes.") == american  # the model's own is unchanged
    with pytest.raises(InvalidInputError, match="unsupported language"):
        tiny_model.speak("Water.", lang="xx-yy")


def test_language_follows_the_voice_unless_given(tiny_model):
    """As upstream: a voice's first letter names its language (b: British, e: Spanish...)."""
    assert tiny_model.speak("Water.", "bf_emma").phonemes == tiny_model.speak("Water.", lang="b").phonemes
    assert tiny_model.speak("Water.", "bf_emma", lang="en-us").phonemes == tiny_model.speak("Water.").phonemes
    spanish = tiny_model.speak("¿Dónde está la biblioteca?", "ef_dora").phonemes
    assert spanish == tiny_model.speak("¿Dónde está la biblioteca?", lang="es").phonemes
    assert spanish != tiny_model.speak("¿Dónde está la biblioteca?").phonemes  # not read as English
    blend = tiny_model.speak("Water.", "bf_emma(0.5)+af_heart(0.5)").phonemes
    assert blend == tiny_model.speak("Water.", lang="en-gb").phonemes  # a blend follows its first voice


def test_front_end_reads_only_what_max_seconds_can_speak(tiny_model, monkeypatch):
    """A megabyte with a 5 s limit is cut before normalisation and G2P, and reported as truncated."""
    frontend = tiny_model._frontend(None)
    read: list[int] = []
    chunks = frontend.chunks
    monkeypatch.setattr(frontend, "chunks", lambda text, **kw: read.append(len(text)) or chunks(text, **kw))
    huge = "The quick brown fox jumps over the lazy dog. " * 25_000
    speech = tiny_model.speak(huge, max_seconds=5)
    assert speech.truncated and 0 < sum(read) <= 1000
    read.clear()
    whole = tiny_model.speak(huge[:450], max_seconds=None)
    assert sum(read) == 450 and not whole.truncated  # no limit: every character is read
