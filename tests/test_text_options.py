"""Per-call front-end options: NormalizationOptions, user lexicons and ``[pause:…]`` markup."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kokoro_trt.config import ModelConfig
from kokoro_trt.errors import InvalidInputError
from kokoro_trt.text import NormalizationOptions, Pause, TextFrontend, load_lexicon, split_pauses
from kokoro_trt.text.normalize import normalize

VOCAB = ModelConfig.default().vocab
EVERYTHING = NormalizationOptions(unit_normalization=True)

SWITCHED = {
    "normalize": "It costs $5 at 3:30.",
    "unit_normalization": "The file is 10KB.",
    "url_normalization": "Visit example.com today.",
    "email_normalization": "Write to john.doe@example.com today.",
    "optional_pluralization_normalization": "Check the file(s) today.",
    "phone_normalization": "Call 555-123-4567 today.",
    "replace_remaining_symbols": "Salt & pepper.",
}


@pytest.fixture(scope="module")
def fe() -> TextFrontend:
    return TextFrontend(VOCAB, "en-us").load()


def test_fields_and_defaults_are_kokoro_fastapis() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(NormalizationOptions)}
    assert defaults == {name: name != "unit_normalization" for name in SWITCHED}


@pytest.mark.parametrize("field", sorted(SWITCHED))
def test_each_switch_turns_its_part_off(field: str) -> None:
    text = SWITCHED[field]
    full = normalize(text, options=EVERYTHING).text
    switched = normalize(text, options=dataclasses.replace(EVERYTHING, **{field: False})).text
    assert switched != full, field
    assert normalize(text).text == full  # None means every part runs


def test_normalize_off_leaves_numbers_to_the_g2p(fe: TextFrontend) -> None:
    raw = NormalizationOptions(normalize=False)
    assert fe.normalize("It costs $5 at 3:30.", normalization=raw).text == "It costs $5 at 3:30."
    assert "fˈIv" in fe.phonemize("It costs $5.", normalization=raw)


def test_lexicon_applies_as_written_then_lower_cased(fe: TextFrontend) -> None:
    plain = fe.phonemize("Kokoro and kokoro.")
    assert fe.phonemize("Kokoro and kokoro.", {"kokoro": "kˈOkəɹO"}) == "kˈOkəɹO ænd kˈOkəɹO."
    assert fe.phonemize("Kokoro and kokoro.", {"Kokoro": "kˈOkəɹO"}).startswith("kˈOkəɹO ænd ")
    assert fe.phonemize("Kokoro and kokoro.") == plain


def test_inline_override_wins_over_the_lexicon(fe: TextFrontend) -> None:
    assert fe.phonemize("[Kokoro](/kəkˈɔɹO/) sings.", {"Kokoro": "kˈOkəɹO"}).startswith("kəkˈɔɹO ")


def test_lexicon_words_keep_written_timestamps(fe: TextFrontend) -> None:
    (chunk,) = fe.chunks("Hi Kokoro.", lexicon={"Kokoro": "kˈOkəɹO"})
    assert [(w.text, chunk.phonemes[w.start_token : w.end_token]) for w in chunk.words] == [
        ("Hi", "hˈI"),
        ("Kokoro", "kˈOkəɹO"),
    ]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_load_lexicon(tmp_path, suffix: str) -> None:
    entries = {"Kokoro": "kˈOkəɹO", "tomato": "təmˈATO"}
    path = tmp_path / f"words{suffix}"
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")  # JSON is valid YAML
    assert load_lexicon(path) == entries


def test_load_lexicon_names_the_bad_word(tmp_path) -> None:
    path = tmp_path / "words.yaml"
    path.write_text("Kokoro: kˈOkəɹO\nsnowman: sn☃mən\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="snowman.*'☃'"):
        load_lexicon(path)
    path.write_text("- not\n- a mapping\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="maps words"):
        load_lexicon(path)
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_lexicon(tmp_path / "missing.json")


def test_split_pauses() -> None:
    assert split_pauses("Hi. [pause:1.5s] There [PAUSE: 500ms][pause:0s]") == [
        "Hi. ",
        Pause(1.5),
        " There ",
        Pause(0.5),
        Pause(0.0),
    ]
    assert split_pauses("No pauses [here](/hˈɪɹ/).") == ["No pauses [here](/hˈɪɹ/)."]


@pytest.mark.parametrize("bad", ["[pause:-1s]", "[pause:10.5s]", "[pause:abc]", "[pause:1.5]", "[pause:]"])
def test_bad_pauses_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="pause"):
        split_pauses(f"Wait {bad} here.")
