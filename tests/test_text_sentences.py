"""Sentence ends: the splitter (abbreviations, decimals, initials, times), the WebSocket's use of it,
and full stops after abbreviations that reach the phonemes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kokoro_trt.config import ModelConfig
from kokoro_trt.text import TextFrontend, split_sentences

VOCAB = ModelConfig.default().vocab


@pytest.fixture(scope="module")
def fe() -> TextFrontend:
    return TextFrontend(VOCAB, "en-us").load()


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Please call Dr. Smith. He is in.", ["Please call Dr. Smith. ", "He is in."]),
        (
            "It costs $3.50 today. Buy it!  Now? Yes…",
            ["It costs $3.50 today. ", "Buy it!  ", "Now? ", "Yes…"],
        ),
        ("J. K. Rowling wrote it. Fine.", ["J. K. Rowling wrote it. ", "Fine."]),
        (
            "Meet at 3 p.m. tomorrow. Or at 3 p.m. Then go.",
            ["Meet at 3 p.m. tomorrow. ", "Or at 3 p.m. ", "Then go."],
        ),
        ("Meet at 3:30 PM. Then we go home.", ["Meet at 3:30 PM. ", "Then we go home."]),
        ("Apples, pears etc. The rest waits.", ["Apples, pears etc. ", "The rest waits."]),
        (
            "He works at Acme Inc. in Ohio. Mr. Brown too.",
            ["He works at Acme Inc. in Ohio. ", "Mr. Brown too."],
        ),
        ('He said "Stop." Then he left.', ['He said "Stop." ', "Then he left."]),
        ("Version 2.5 is out. Get it", ["Version 2.5 is out. ", "Get it"]),
        ("Title\nThe body follows", ["Title\n", "The body follows"]),
        ("", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_sentences_concatenate_to_the_text(text: str) -> None:
    parts = split_sentences(text)
    assert "".join(parts) == unicodedata.normalize("NFC", text)
    assert all(p for p in parts)


@pytest.mark.parametrize(
    ("buffer", "complete", "rest"),
    [
        ("Please call Dr. ", "", "Please call Dr. "),
        ("Please call Dr. Smith. Then", "Please call Dr. Smith. ", "Then"),
        ("Hello there. ", "Hello there. ", ""),
        ("Hello there.", "", "Hello there."),
        ("It costs 3.", "", "It costs 3."),
        ("Written by J. ", "", "Written by J. "),
        ("Meet at 3 p.m. ", "Meet at 3 p.m. ", ""),
        ("No end yet", "", "No end yet"),
    ],
)
def test_websocket_speaks_only_complete_sentences(buffer: str, complete: str, rest: str) -> None:
    pytest.importorskip("fastapi", reason="needs the server extra")
    from kokoro_trt.server.websocket import split_complete

    assert split_complete(buffer) == (complete, rest)


@pytest.mark.parametrize(
    ("text", "before_stop"),
    [
        ("Meet at 3:30 PM. Then we go home.", "ˈɛm"),
        ("Meet at 3 a.m. Then we go home.", "ˈɛm"),
        ("Apples, pears etc. Then we go home.", "ɹə"),
        ("He works at Acme Inc. Then we go home.", "ᵻd"),
        ("Call me at 5 p.m. Then we go home.", "ˈɛm"),
    ],
)
def test_abbreviation_ending_a_sentence_keeps_its_full_stop(fe: TextFrontend, text: str, before_stop: str) -> None:
    phonemes = fe.phonemize(text)
    assert f"{before_stop}. ðˈɛn" in phonemes, phonemes


def test_initials_get_no_full_stop(fe: TextFrontend) -> None:
    assert "." not in fe.phonemize("J. K. Rowling wrote")
