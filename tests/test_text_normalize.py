"""Normalisation: a table of tricky inputs, the word mapping, and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kokoro_trt.errors import InvalidInputError
from kokoro_trt.text.normalize import normalize

CASES_FILE = Path(__file__).parent / "data" / "normalization_cases.tsv"


def _cases() -> list[tuple[str, str, str]]:
    rows = []
    for line in CASES_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            lang, text, expected = line.split("\t")
            rows.append((lang, text.replace("\\t", "\t").replace("\\n", "\n"), expected))
    return rows


CASES = _cases()


def test_table_is_large() -> None:
    assert len(CASES) >= 100


@pytest.mark.parametrize(("lang", "text", "expected"), CASES, ids=[c[1][:40] for c in CASES])
def test_spoken_form(lang: str, text: str, expected: str) -> None:
    assert normalize(text, british=lang == "en-gb").text == expected


def test_words_map_original_to_spoken_span() -> None:
    norm = normalize("Dr. Smith paid $5.3 billion at 3:30 PM, I’m told.")
    pairs = [(w.original, w.spoken) for w in norm.words]
    assert pairs == [
        ("Dr.", "Doctor"), ("Smith", "Smith"), ("paid", "paid"),
        ("$5.3 billion", "five point three billion dollars"), ("at", "at"),
        ("3:30 PM", "three thirty P M"), ("I’m", "I'm"), ("told", "told"),
    ]
    for w in norm.words:
        assert norm.text[w.start : w.end] == w.spoken


def test_override_keeps_phonemes_and_skips_normalisation() -> None:
    norm = normalize("Say [2nd](/sˈɛkənd/) twice.")
    assert norm.text == "Say 2nd twice."
    (override,) = norm.overrides
    assert norm.text[override.start : override.end] == "2nd"
    assert override.phonemes == "sˈɛkənd"
    assert [w.original for w in norm.words] == ["Say", "2nd", "twice"]  # the written word, not the markup


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError, match="text is empty"):
        normalize(text)


@pytest.mark.parametrize("text", ["😀🚀", "...", "你好", "★ ♥ !!"])
def test_unspeakable_text_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError, match="nothing speakable"):
        normalize(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_random_unicode_only_raises_invalid_input(text: str) -> None:
    try:
        norm = normalize(text)
    except InvalidInputError:
        return
    assert norm.text == norm.text.strip() and "  " not in norm.text
    if not norm.overrides:  # every digit has been spoken
        assert not any(c.isdigit() for c in norm.text)
