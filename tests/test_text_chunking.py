"""Chunking, raw phoneme input, token ids and word timestamps."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kokoro_trt.config import ModelConfig
from kokoro_trt.errors import InvalidInputError
from kokoro_trt.text import TextFrontend, Word, phonemes_to_ids, word_timestamps
from kokoro_trt.text.frontend import CHUNK_PHONEMES, MAX_TOKENS

VOCAB = ModelConfig.default().vocab


@pytest.fixture(scope="module")
def fe() -> TextFrontend:
    return TextFrontend(VOCAB, "en-us").load()


def _check(fe: TextFrontend, text: str, max_tokens: int) -> None:
    chunks = fe.chunks(text, max_tokens=max_tokens)
    assert "".join(c.text for c in chunks) == fe.normalize(text).text
    for c in chunks:
        assert 0 < len(c.token_ids) <= max_tokens
        assert c.token_ids == phonemes_to_ids(c.phonemes, VOCAB)
        for w in c.words:
            assert 0 <= w.start_token <= w.end_token <= len(c.token_ids)


def test_long_text_is_never_truncated(fe: TextFrontend) -> None:
    text = " ".join(f"Sentence {i} costs ${i}.5 billion, roughly." for i in range(60))
    chunks = fe.chunks(text)
    assert len(chunks) > 1
    _check(fe, text, 510)
    spoken = [w.text for c in chunks for w in c.words]
    assert spoken.count("Sentence") == 60 and "$59.5 billion" in spoken


def test_chunks_end_at_sentences_when_they_can(fe: TextFrontend) -> None:
    text = "This is the first sentence here. " * 30
    chunks = fe.chunks(text, max_tokens=100)
    assert all(c.text.rstrip().endswith(".") for c in chunks)


def test_default_chunks_stop_at_the_chunk_cap_the_model_limit_on_request(fe: TextFrontend) -> None:
    text = " ".join(f"Sentence number {i} talks about the weather and the sea." for i in range(8))
    assert CHUNK_PHONEMES < len(fe.phonemize(text)) <= MAX_TOKENS
    capped = fe.chunks(text)
    assert len(capped) == 2 and all(len(c.phonemes) <= CHUNK_PHONEMES for c in capped)
    assert capped[0].text.rstrip().endswith(".")
    assert len(fe.chunks(text, max_tokens=MAX_TOKENS)) == 1


@pytest.mark.parametrize("growing", [False, True])
def test_streamed_pieces_never_split_a_written_word(fe: TextFrontend, growing: bool) -> None:
    text = "It is 40–60°C today, so take water with you on the long walk to the old harbour."
    pieces = fe.chunks(text, head_tokens=8, growing=growing)
    assert len(pieces) >= 2 and all(c.continues for c in pieces[1:])
    assert [w.text for c in pieces for w in c.words] == [w.text for c in fe.chunks(text) for w in c.words]


def test_clauses_are_preferred_to_spaces(fe: TextFrontend) -> None:
    text = "one two three four five six, seven eight nine ten eleven twelve thirteen fourteen"
    first = fe.chunks(text, max_tokens=60)[0]
    assert first.text.rstrip().endswith(",")


@pytest.mark.parametrize(("text", "head"), [('She said, "We leave at dawn." ' * 8, None), ('"Hello," she said.', 10)])
def test_closing_quotes_stay_with_what_they_close(fe: TextFrontend, text: str, head: int | None) -> None:
    """Cut before its closing quote, a chunk ended on its full stop and the next began with the quote (the
    model read ``” ʃi``); cut after it, the quote ends its sentence or clause as a break should."""
    chunks = fe.chunks(text, max_tokens=60, head_tokens=head, growing=head is not None)
    assert len(chunks) > 1 and chunks[0].text.rstrip().endswith('"') and chunks[0].phonemes.endswith("”")
    assert not any(c.phonemes.startswith("”") or c.text.startswith('" ') for c in chunks), [c.text for c in chunks]


def test_text_without_punctuation_still_splits(fe: TextFrontend) -> None:
    text = " ".join(["banana"] * 300)
    chunks = fe.chunks(text)
    assert len(chunks) > 1
    _check(fe, text, 510)
    assert sum(len(c.words) for c in chunks) == 300


def test_one_enormous_word_splits(fe: TextFrontend) -> None:
    text = "x" * 300
    _check(fe, text, 50)
    chunks = fe.chunks(text, max_tokens=50)
    assert len(chunks) > 1 and all(c.words[0].text == text for c in chunks)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(
        st.sampled_from(
            [
                "the",
                "cat",
                "Dr.",
                "$5.3",
                "billion",
                "40–60°C",
                "3:30",
                "PM",
                "read",
                "I’m",
                "x",
                ",",
                ".",
                "?",
                "—",
                "42",
                "café",
                "😀",
                "email@ex.com",
                "[Kokoro](/kˈOkəɹO/)",
            ]
        ),
        min_size=1,
        max_size=80,
    ),
    max_tokens=st.integers(min_value=8, max_value=120),
)
def test_chunks_concatenate_to_normalised_text(fe: TextFrontend, words: list[str], max_tokens: int) -> None:
    text = " ".join(words)
    try:
        fe.normalize(text)
    except InvalidInputError:
        return
    _check(fe, text, max_tokens)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_random_unicode_chunks_or_invalid_input(fe: TextFrontend, text: str) -> None:
    try:
        chunks = fe.chunks(text)
    except InvalidInputError:
        return
    assert all(set(c.phonemes) <= set(VOCAB) for c in chunks)


def test_word_token_spans(fe: TextFrontend) -> None:
    (chunk,) = fe.chunks("Hello, $5 world.")
    spans = {w.text: chunk.phonemes[w.start_token : w.end_token] for w in chunk.words}
    assert spans == {"Hello": "həlˈO", "$5": "fˈIv dˈɑləɹz", "world": "wˈɜɹld"}


def test_raw_phonemes(fe: TextFrontend) -> None:
    chunks = fe.chunks_from_phonemes("hˈɛlO wˈɜɹld. ðɪs ɪz ɐ tˈɛst", max_tokens=12)
    assert " ".join(c.phonemes for c in chunks) == "hˈɛlO wˈɜɹld. ðɪs ɪz ɐ tˈɛst"
    assert all(len(c.token_ids) <= 12 for c in chunks)
    assert [w.text for c in chunks for w in c.words] == ["hˈɛlO", "wˈɜɹld", "ðɪs", "ɪz", "ɐ", "tˈɛst"]


def test_raw_phonemes_reject_unknown_symbols(fe: TextFrontend) -> None:
    with pytest.raises(InvalidInputError, match="'Z'"):
        fe.chunks_from_phonemes("hˈɛlZ")
    with pytest.raises(InvalidInputError):
        fe.chunks_from_phonemes("   ")


def test_phonemes_to_ids_names_bad_symbols() -> None:
    assert phonemes_to_ids("ab", VOCAB) == [VOCAB["a"], VOCAB["b"]]
    with pytest.raises(InvalidInputError, match=r"'☃' \(U\+2603\)"):
        phonemes_to_ids("a☃", VOCAB)


def test_bad_override_is_rejected(fe: TextFrontend) -> None:
    with pytest.raises(InvalidInputError, match="'Z'"):
        fe.chunks("Say [it](/Zit/) now")


def test_bad_arguments(fe: TextFrontend) -> None:
    with pytest.raises(InvalidInputError):
        TextFrontend(VOCAB, "de")  # French is supported since issue #15
    with pytest.raises(InvalidInputError):
        fe.chunks("hello", max_tokens=0)
    with pytest.raises(InvalidInputError, match="text is empty"):
        fe.chunks("  ")


def test_word_timestamps() -> None:
    words = [Word("Hi", "Hi", 0, 2), Word("there", "there", 3, 6)]
    durations = [4, 2, 2, 1, 3, 3, 3, 5]  # [boundary, 6 tokens..., boundary] -> len(tokens) + 2 = 8
    stamps = word_timestamps(words, durations, samples_per_frame=600, sample_rate=24000)
    assert [s.word for s in stamps] == ["Hi", "there"]
    assert stamps[0].start == pytest.approx(4 * 0.025) and stamps[0].end == pytest.approx(8 * 0.025)
    assert stamps[1].start == pytest.approx(9 * 0.025) and stamps[1].end == pytest.approx(18 * 0.025)
    with pytest.raises(InvalidInputError):
        word_timestamps([Word("x", "x", 0, 9)], durations)
