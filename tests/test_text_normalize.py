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
        ("Dr.", "Doctor"),
        ("Smith", "Smith"),
        ("paid", "paid"),
        ("$5.3 billion", "five point three billion dollars"),
        ("at", "at"),
        ("3:30 PM", "three thirty P M"),
        ("I’m", "I'm"),
        ("told", "told"),
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


@pytest.mark.parametrize(
    ("text", "american", "british"),
    [
        ("1,250", "one thousand two hundred fifty", "one thousand two hundred and fifty"),
        ("the 101st", "the one hundred first", "the one hundred and first"),
        ("in 2005", "in two thousand five", "in two thousand and five"),
        (
            "$1,250.50",
            "one thousand two hundred fifty dollars and fifty cents",
            "one thousand two hundred and fifty dollars and fifty cents",
        ),
        ("2 1/2 cups", "two and one half cups", "two and one half cups"),
    ],
)
def test_american_numbers_have_no_and(text: str, american: str, british: str) -> None:
    """American English drops the "and" inside numbers; British keeps it; other "and"s stay."""
    assert normalize(text).text == american
    assert normalize(text, british=True).text == british


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("±3 degrees", "plus or minus three degrees"),
        ("I write C# code", "I write C sharp code"),
        ("a sonata in F#", "a sonata in F sharp"),
        ("#AI is trending", "hashtag AI is trending"),
        ("A → B", "A to B"),
        ("Press # now", "Press hash now"),
        ("Room #5", "Room number five"),
        ("E=mc²", "E equals mc squared"),
        ("x³", "x cubed"),
        ("٣ apples", "three apples"),  # any script's digits
        ("see www.²", "see www dot squared"),  # in an address too (it was a ValueError)
    ],
)
def test_symbols_are_read_not_dropped(text: str, spoken: str) -> None:
    """Issue #13: no symbol disappears without a word for it."""
    assert normalize(text).text == spoken
