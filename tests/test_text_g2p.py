"""G2P: offline loading, heteronyms, dialects, and no phoneme outside the model vocabulary."""

from __future__ import annotations

import importlib
import random
import unicodedata

import pytest
import spacy

from kokoro_trt.config import ModelConfig
from kokoro_trt.text import TextFrontend
from kokoro_trt.text.g2p import TAGGER_MODELS, load_g2p, load_nlp

VOCAB = ModelConfig.default().vocab
HAS_TAGGER = any(spacy.util.is_package(name) for name in TAGGER_MODELS)


@pytest.fixture(scope="module")
def us() -> TextFrontend:
    return TextFrontend(VOCAB, "en-us").load()


@pytest.fixture(scope="module")
def gb() -> TextFrontend:
    return TextFrontend(VOCAB, "en-gb").load()


def test_loading_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("G2P tried to download a spaCy model")

    monkeypatch.setattr(spacy.cli, "download", no_download)
    load_nlp.cache_clear()
    load_g2p.cache_clear()
    assert load_g2p(False)("hello", preprocess=False)[0] == "həlˈO"
    assert load_g2p(False) is load_g2p(False)  # cached per process


def test_falls_back_to_blank_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kokoro_trt.text.g2p.TAGGER_MODELS", ("no_such_model_xyz",))
    load_nlp.cache_clear()
    try:
        nlp = load_nlp()
        assert nlp.pipe_names == []
    finally:
        load_nlp.cache_clear()


@pytest.mark.skipif(not HAS_TAGGER, reason="no spaCy tagger model installed")
@pytest.mark.parametrize(
    ("text", "word", "phonemes"),
    [
        ("I read the book yesterday.", "read", "ɹˈɛd"),
        ("I will read it tomorrow.", "read", "ɹˈid"),
        ("We live here.", "live", "lˈɪv"),
        ("A live show.", "live", "lˈIv"),
        ("Lead the way.", "Lead", "lˈid"),
    ],
)
def test_part_of_speech_resolves_heteronyms(us: TextFrontend, text: str, word: str, phonemes: str) -> None:
    (chunk,) = us.chunks(text)
    (w,) = [w for w in chunk.words if w.text == word]
    assert chunk.phonemes[w.start_token : w.end_token] == phonemes


def test_american_and_british_differ(us: TextFrontend, gb: TextFrontend) -> None:
    assert us.phonemize("tomato") == "təmˈATO"
    assert gb.phonemize("tomato") == "təmˈɑːtQ"


def test_unknown_words_use_espeak(us: TextFrontend) -> None:
    ps = us.phonemize("blorptastic zxqvorn")
    assert len(ps) > 10 and " " in ps


def test_override_phonemes_are_used(us: TextFrontend) -> None:
    assert us.phonemize("Say [Kokoro](/kˈOkəɹO/) now.") == "sˈA kˈOkəɹO nˈW."


def _corpus(n_random: int = 800) -> list[str]:
    """Varied words: stop words of many Latin-script languages, every accented Latin letter, gibberish."""
    words: list[str] = []
    for lang in ["fr", "de", "es", "it", "pt", "nl", "sv", "pl", "cs", "hu", "tr", "ro", "fi", "lt", "is"]:
        stop_words = importlib.import_module(f"spacy.lang.{lang}.stop_words").STOP_WORDS
        words += sorted(stop_words)[:150]
    latin = [chr(i) for i in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]
             if chr(i).isalpha() and unicodedata.name(chr(i), "").startswith("LATIN")]
    words += [c + "a" for c in latin]
    rng = random.Random(0)
    alphabet = latin + list("aeiouy") * 10 + list("bcdfghjklmnpqrstvwxz") * 5
    words += ["".join(rng.choice(alphabet) for _ in range(rng.randint(2, 9))) for _ in range(n_random)]
    return [" ".join(words[i : i + 12]) + rng.choice([".", ",", "?", "!", " —"]) for i in range(0, len(words), 12)]


@pytest.mark.parametrize("lang", ["en-us", "en-gb"])
def test_corpus_phonemes_are_all_in_vocab(lang: str) -> None:
    fe = TextFrontend(VOCAB, lang)
    sentences = _corpus()
    assert sum(len(s.split()) for s in sentences) > 3000
    raw_oov = set()
    for sentence in sentences:
        text = fe.normalize(sentence).text
        for tk in load_g2p(lang == "en-gb")(text, preprocess=False)[1]:
            raw_oov |= {p for p in tk.phonemes or "" if p not in VOCAB}
        assert set(fe.phonemize(sentence)) <= set(VOCAB)
    assert raw_oov == set()  # measured: the guard in keep_known has had nothing to drop
