"""stream() chunks like speak() except for its first chunk, cut into a head and growing pieces: boundaries,
overrides, written words, length."""

from __future__ import annotations

import numpy as np
import pytest

from kokoro_trt.errors import InvalidInputError
from kokoro_trt.runtime import model as model_module
from kokoro_trt.runtime.model import _CROSSFADE_SAMPLES, _JOIN_CONTEXT_FRAMES
from kokoro_trt.text.chunking import MIN_HEAD_PHONEMES, PAUSE_PHONEMES
from kokoro_trt.text.punctuation import CLAUSE_END, CLOSERS, SENTENCE_END

PASSAGE = (
    "Good morning, everyone. The library opens at 3:30 PM, and [Kokoro](/kˈOkəɹO/) reads aloud to the "
    "children in the main hall. After that, the staff close the doors, count the books and tidy the "
    "shelves. Everyone goes home happy, tired and ready for another day."
)

OPENING = (
    "Good morning, and welcome to the quarterly update from the research team. Over the last three months "
    "we rebuilt the speech engine from the ground up, and the results are encouraging."
)
"""A piece that ends its first sentence carries the sentence's pause (~0.5 s): sized by phonemes alone, it
had almost as much audio as all the pieces before it."""
LATER = (
    "Short replies now begin playing almost instantly, even on a modest laptop without a graphics card. Long "
    "documents, such as news articles or book chapters, are read aloud with steady pacing and natural pauses. "
    "We also added several new voices, improved how numbers and dates are spoken, and fixed a handful of "
    "pronunciation mistakes that listeners reported."
)
"""With the opening, two chunks: the second about as long as the first."""


def _ends_at_a_break(text: str) -> bool:
    core = text.rstrip().rstrip(CLOSERS)
    return bool(core) and core[-1] in SENTENCE_END | CLAUSE_END


def _estimated_audio(chunk) -> int:
    """Phonemes, and each sentence's and clause's pause in phonemes' worth."""
    ends = [word.rstrip(CLOSERS)[-1:] for word in chunk.text.split()]
    sentences = sum(end in SENTENCE_END for end in ends)
    clauses = sum(end in CLAUSE_END for end in ends)
    return len(chunk.phonemes) + PAUSE_PHONEMES[3] * sentences + PAUSE_PHONEMES[2] * clauses


@pytest.mark.parametrize("text", [PASSAGE, OPENING])
def test_on_the_cpu_the_first_chunk_comes_in_growing_pieces(tiny_model, text):
    chunks = list(tiny_model.stream(text, first_chunk_tokens=30))
    (first,) = tiny_model.frontend.chunks(text)
    audio = [_estimated_audio(c) for c in chunks]
    assert " ".join(c.phonemes for c in chunks) == first.phonemes
    assert len(chunks[0].phonemes) <= 30 and len(chunks) >= 4, audio
    for k in range(1, len(chunks) - 1):  # each at most 3/4 of the audio before it (at least 15): ready in time
        assert audio[k] <= max(15, 3 * sum(audio[:k]) // 4), audio
    assert _ends_at_a_break(chunks[0].text) and _ends_at_a_break(chunks[-1].text)


@pytest.mark.parametrize("head", [1, 5, 10, 20])
def test_pieces_join_back_into_what_speak_reads(tiny_model, head):
    """A piece never parts a word from its punctuation: joined with spaces, "everyone ." is another input."""
    chunks = list(tiny_model.stream(PASSAGE, first_chunk_tokens=head))
    assert " ".join(c.phonemes for c in chunks) == tiny_model.speak(PASSAGE).phonemes
    assert len(chunks[0].phonemes) >= MIN_HEAD_PHONEMES and _ends_at_a_break(chunks[0].text + " ")


def test_a_head_runs_past_a_word_too_short_to_cover_the_next(tiny_model):
    assert next(tiny_model.stream(OPENING, first_chunk_tokens=10)).text == "Good morning, "  # not "Good "


@pytest.mark.parametrize(
    ("text", "closing"), [(OPENING, ","), ("The old lighthouse keeper climbed the winding stairs every evening.", "")]
)
def test_the_head_leaves_its_closing_pause_to_the_piece_after_it(tiny_model, monkeypatch, text, closing):
    """The pause a head ends with ("Good morning," : its comma's frames) opens the piece after it, rendered
    from the same pass while the head plays, so the head's decoder call is shorter; no frame is lost."""
    durations, passes = tiny_model.backend.durations, []

    def recording(input_ids, style, speed):
        passes.append(durations(input_ids, style, speed))
        return passes[-1]

    monkeypatch.setattr(tiny_model.backend, "durations", recording)
    stream = tiny_model.stream(text, first_chunk_tokens=10)
    head, after = next(stream), next(stream)
    assert head.phonemes.endswith(closing) and len(passes) == 1  # both from the head's pass
    frames_before = np.concatenate([[0], np.cumsum(passes[0].durations)])  # model token k: phoneme k - 1
    first = int(passes[0].durations[0]) - model_module._LEAD_FRAMES
    head_end, after_end = len(head.phonemes) + 1, len(head.phonemes) + 2 + len(after.phonemes)
    spf = tiny_model.samples_per_frame
    assert len(head.audio) == (frames_before[head_end - len(closing)] - first) * spf
    assert len(head.audio) + len(after.audio) == (frames_before[after_end] - first) * spf


def test_a_piece_decodes_the_frames_beside_it_and_keeps_only_its_own(tiny_model, monkeypatch):
    """Each join between pieces of a pass is decoded with its neighbours' frames on both sides, then those
    are dropped: a piece's edges see the speech around them, not zeros (short words were swallowed)."""
    decode, decoded = tiny_model.backend.decode, []

    def recording(features, frame_index, *args):
        decoded.append((len(frame_index), int(features.durations.sum())))
        return decode(features, frame_index, *args)

    monkeypatch.setattr(tiny_model.backend, "decode", recording)
    chunks = list(tiny_model.stream(PASSAGE, first_chunk_tokens=10))
    frames = [len(c.audio) // tiny_model.samples_per_frame for c in chunks]
    assert len(chunks) >= 4 and len(decoded) == len(chunks)
    context = [n - own for (n, _), own in zip(decoded, frames, strict=True)]
    assert context[0] == _JOIN_CONTEXT_FRAMES  # the head: the frames after it
    assert context[1:-1] == [2 * _JOIN_CONTEXT_FRAMES] * (len(chunks) - 2)  # between two pieces: both sides
    assert context[-1] == _JOIN_CONTEXT_FRAMES  # the last: only the frames before it

    whole = list(tiny_model.stream(PASSAGE, first_chunk_tokens=10, output=np.zeros(len(PASSAGE) * 9000, np.float32)))
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(chunks, whole, strict=True))  # into a buffer too


def test_a_piece_fades_in_from_what_the_piece_before_it_decoded_past_their_join(tiny_model, monkeypatch):
    """Decoded apart, two pieces met with a step (a click in a voiced sound): each piece after the head
    starts where the piece before it went on past their join, then fades into its own audio."""
    decode, rendered = tiny_model.backend.decode, []
    spf, fade = tiny_model.samples_per_frame, _CROSSFADE_SAMPLES

    def recording(features, frame_index, f0, n, style, noise, out, offset):
        decode(features, frame_index, f0, n, style, noise, out, offset)
        rendered.append(np.array(out.host_view(offset, offset + len(frame_index) * spf)))

    monkeypatch.setattr(tiny_model.backend, "decode", recording)
    chunks = list(tiny_model.stream(PASSAGE, first_chunk_tokens=10))
    assert len(chunks) >= 4 and len(rendered) == len(chunks)
    context = _JOIN_CONTEXT_FRAMES * spf  # decoded before every piece but the head
    for k in range(1, len(chunks)):
        end = (context if k > 1 else 0) + len(chunks[k - 1].audio)  # the piece before: its own audio's end
        went_on, own, audio = rendered[k - 1][end : end + fade], rendered[k][context:], np.asarray(chunks[k].audio)
        assert len(went_on) == fade and not np.allclose(went_on, own[:fade])  # they differ: a hard cut would step
        np.testing.assert_array_equal(audio[fade:], own[fade : len(audio)])
        scale = np.abs(went_on - own[:fade]).max()
        assert abs(audio[0] - went_on[0]) < 1e-3 * scale and abs(audio[fade - 1] - own[fade - 1]) < 1e-3 * scale
        low, high = np.minimum(went_on, own[:fade]), np.maximum(went_on, own[:fade])
        assert np.all((low - 1e-6 <= audio[:fade]) & (audio[:fade] <= high + 1e-6))  # in between all along


def test_every_piece_reads_the_prosody_of_its_whole_pass(tiny_model, monkeypatch):
    """The prosody predictor reads both ways: a piece cut from its pass would end its pitch as if the
    text ended there, so each piece takes its frames from the prosody of all the pass's frames, predicted
    once per pass: the head's short pass, then the whole chunk's."""
    prosody, seen = tiny_model.backend.prosody, []

    def recording(features, frame_index, style):
        seen.append((len(frame_index), int(features.durations.sum())))
        return prosody(features, frame_index, style)

    monkeypatch.setattr(tiny_model.backend, "prosody", recording)
    chunks = list(tiny_model.stream(PASSAGE, first_chunk_tokens=30))
    assert len(chunks) >= 4 and len(seen) == 2, seen
    assert all(frames == whole for frames, whole in seen), seen
    assert seen[0][1] < seen[1][1]


def test_the_first_piece_after_the_head_renders_from_the_heads_pass(tiny_model, monkeypatch):
    """So the pass over the whole chunk runs while the head and that piece play, not in the head's time."""
    durations, passes = tiny_model.backend.durations, []

    def recording(input_ids, style, speed):
        passes.append(input_ids.shape[-1])
        return durations(input_ids, style, speed)

    monkeypatch.setattr(tiny_model.backend, "durations", recording)
    stream = tiny_model.stream(PASSAGE, first_chunk_tokens=30)
    head, first = next(stream), next(stream)
    assert len(passes) == 1 and passes[0] > len(head.phonemes) + len(first.phonemes) + 2, passes
    rest = list(stream)
    assert len(passes) == 2 and len(rest) >= 2, passes
    assert " ".join(c.phonemes for c in [head, first, *rest]) == tiny_model.frontend.chunks(PASSAGE)[0].phonemes


def test_on_a_gpu_the_head_is_followed_by_the_rest_whole(tiny_model, monkeypatch):
    monkeypatch.setattr(tiny_model.backend, "output_devices", ("cpu", "cuda"))
    chunks = list(tiny_model.stream(PASSAGE, first_chunk_tokens=30))
    assert len(chunks) == 2, [c.text for c in chunks]  # the head, then the rest of the first chunk
    assert len(chunks[0].phonemes) <= 30 < len(chunks[1].phonemes)
    assert all(_ends_at_a_break(c.text) for c in chunks), [c.text for c in chunks]


def test_overrides_and_written_words_are_the_same_as_speak(tiny_model):
    speech = tiny_model.speak(PASSAGE)
    chunks = list(tiny_model.stream(PASSAGE))
    assert " ".join(c.phonemes for c in chunks) == speech.phonemes
    assert "kˈOkəɹO" in speech.phonemes
    streamed = [w for c in chunks for w in c.words]
    assert [w.word for w in streamed] == [w.word for w in speech.words]
    assert "3:30 PM" in [w.word for w in streamed] and "Kokoro" in [w.word for w in streamed]
    # the rest is timed by speak's duration pass; the head by a short pass of its own (fast first audio)
    times = np.array([(w.start, w.end) for w in streamed]) - np.array([(w.start, w.end) for w in speech.words])
    assert np.abs(times).max() <= 0.25
    assert abs(sum(len(c.audio) for c in chunks) - len(speech.audio)) <= 0.03 * len(speech.audio)
    for c in chunks:  # times count from the start of the stream
        start, end = c.start_sample / 24000, (c.start_sample + len(c.audio)) / 24000
        assert all(start <= w.start <= w.end <= end + 1e-9 for w in c.words)


def test_later_chunks_are_speaks_chunks_in_pieces_while_the_audio_before_is_short(tiny_model):
    long = " ".join([PASSAGE] * 4)  # several chunks
    spoken = [c.phonemes for c in tiny_model.frontend.chunks(long)]
    streamed = [c.phonemes for c in tiny_model.stream(long, max_seconds=None)]
    pieces, k = [], 0
    for chunk in spoken:
        n = next((n for n in range(1, len(streamed) - k + 1) if " ".join(streamed[k : k + n]) == chunk), 0)
        assert n, (chunk, streamed[k:])
        pieces.append(n)
        k += n
    assert k == len(streamed) and len(spoken) >= 4, pieces
    assert pieces[1] > 1 and pieces[-1] == 1, pieces  # the second chunk is ~as long as the first; the last is not


@pytest.fixture
def first_block(monkeypatch) -> int:
    """A first block of 300 characters (1,000 in use), so that a text twice as long is a long one."""
    monkeypatch.setattr(model_module, "_FIRST_BLOCK_CHARS", 300)
    return 300


def test_a_long_stream_reads_its_first_sentences_before_the_rest(tiny_model, monkeypatch, first_block):
    """With no ``max_seconds`` (the server's default) the G2P of a whole long text ran before its first
    audio (2,240 words: 1.5x later); the first sentences are read first, the rest once their audio is out."""
    text = f"{LATER} {LATER}"  # ~860 characters
    read, chunks = [], tiny_model.frontend.chunks

    def recording(part, *args, **kwargs):
        read.append(part)
        return chunks(part, *args, **kwargs)

    monkeypatch.setattr(tiny_model.frontend, "chunks", recording)
    stream = tiny_model.stream(text, max_seconds=None)
    first = next(stream)
    assert len(read) == 1 and first_block <= len(read[0]) < 2 * first_block and read[0].rstrip().endswith(".")
    streamed = [first, *stream]
    assert len(read) == 2 and "".join(read) == text
    speech = tiny_model.speak(text, max_seconds=None)
    assert " ".join(c.phonemes for c in streamed) == speech.phonemes
    assert [w.word for c in streamed for w in c.words] == [w.word for w in speech.words]
    read.clear()
    next(tiny_model.stream(text, max_seconds=60))  # a cap cuts the text to what it can speak instead
    assert read == [text]


def test_bad_input_late_in_a_long_stream_fails_before_its_first_chunk(tiny_model, first_block):
    with pytest.raises(InvalidInputError, match="'Z'"):
        next(tiny_model.stream(f"{LATER} {LATER} Say [it](/Zit/) now.", max_seconds=None))


def test_a_long_text_whose_end_says_nothing_alone_streams_whole(tiny_model, first_block):
    """Its last sentences would be cut off as "nothing speakable" alone; read whole, they are dropped."""
    text = LATER + " 👍" * 150
    assert len(text) >= 2 * first_block  # long enough to be cut
    streamed = list(tiny_model.stream(text, max_seconds=None))
    assert " ".join(c.phonemes for c in streamed) == tiny_model.speak(text, max_seconds=None).phonemes


@pytest.mark.slow
def test_streamed_audio_is_as_long_as_speak(real_model):
    passage = PASSAGE.replace("[Kokoro](/kˈOkəɹO/)", "Kokoro") + " The next morning, it all starts again."
    whole = real_model.synthesize(passage, "af_sky")
    streamed = np.concatenate([c.audio for c in real_model.stream(passage, "af_sky")])
    assert abs(len(streamed) - len(whole)) / len(whole) < 0.03, (len(streamed), len(whole))


@pytest.mark.slow
def test_each_piece_has_at_most_three_quarters_of_the_audio_before_it(real_model):
    """What the pieces are sized for, in real audio: each renders before the audio ahead of it has played
    wherever the model runs 1.75 times as fast as real time (the one after the head renders from the
    head's pass and may be as long as it; an estimate of the pauses leaves ~5% slack). Also across
    chunks: the second (~17 s of audio, after ~17 s) comes in pieces, as it would not be ready in time whole."""
    text = f"{OPENING} {LATER}"
    seconds = [len(c.audio) / real_model.sample_rate for c in real_model.stream(text, "af_heart")]
    assert len(real_model.frontend.chunks(text)) == 2 and len(seconds) >= 6, seconds
    for k in range(2, len(seconds)):
        assert seconds[k] <= 0.8 * sum(seconds[:k]), seconds
