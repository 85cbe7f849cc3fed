"""G2P: offline loading, heteronyms, dialects, and no phoneme outside the model vocabulary."""

from __future__ import annotations

import importlib
import random
import unicodedata

import pytest
import spacy

from kokoro_trt.config import ModelConfig
from kokoro_trt.text import TextFrontend
from kokoro_trt.text.g2p import TAGGER_MODELS, _split_long_compounds, load_g2p, load_nlp
from kokoro_trt.text.word_g2p import load_word_g2p

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
def test_tagger_pipeline_builds_nothing_else() -> None:
    nlp = load_nlp()
    assert nlp.component_names == ["tok2vec", "tagger"]  # parser, NER, ... never loaded, not only disabled
    assert [t.tag_ for t in nlp("They read books.")] == ["PRP", "VBD", "NNS", "."]


@pytest.mark.skipif(not HAS_TAGGER, reason="no spaCy tagger model installed")
def test_the_pipeline_tokenizes_and_tags_as_the_package_loaded_plainly() -> None:
    """The pipeline starts with an empty tokenizer and reads the package's: nothing of it may be lost."""
    name = next(name for name in TAGGER_MODELS if spacy.util.is_package(name))
    text = (
        "Dr. O'Neil's U.S.-based co-op didn't pay $5.30 at 3:30pm (e.g. www.example.com, ~40%)... "
        "\"Can't,\" she said; they'd read it 2x — wasn't it?"
    )
    plain = spacy.load(name)(text)
    ours = load_nlp()(text)
    assert len(ours) > len(text.split()) + 15  # split at clitics, punctuation, currency, units
    assert [(t.text, t.whitespace_, t.tag_) for t in ours] == [(t.text, t.whitespace_, t.tag_) for t in plain]


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
    latin = [
        chr(i)
        for i in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]
        if chr(i).isalpha() and unicodedata.name(chr(i), "").startswith("LATIN")
    ]
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


CORPORA = {
    "es": "¿Dónde está la estación? ¡Qué día tan bonito! Tengo 1.250,5 euros y 25 años. "
    "El niño comió paella en Valencia; después, jugó al fútbol con Google Maps.",
    "fr": "Les enfants sont arrivés à 15h30. J'ai « 1 250 » euros, peut-être plus ! "
    "Où est l'hôpital ? Aujourd'hui, nous mangeons des crêpes et du fromage.",
    "it": "Ciao, come stai? Ho 1.250 euro e 3,5 chili di pane. "
    "Gli gnocchi sono buonissimi; perché non andiamo all'università di Bologna?",
    "pt-br": "Olá, tudo bem? Eu tenho 1.250 reais e 3,5 quilos de açúcar. "
    "Não sei se ele vem amanhã; a cidade de São Paulo é muito grande!",
    "hi": "नमस्ते, आप कैसे हैं? मेरे पास १२५० रुपये हैं। भारत एक विशाल देश है; यहाँ कई भाषाएँ बोली जाती हैं। क्या आप ज़रूर आएँगे?",
    "ja": "こんにちは、世界！今日は2025年11月29日です。「はい」と言いました。"
    "ちょっと待って、Googleで働いています。東京タワーは3.5キロ先です。ラーメンを1,250円で食べた？",
    "zh": "你好，世界！今天是2025年11月29日，我有1,250元。我在Google工作。"
    "“你好”他说：我们去公园散步吧？这本书很好看；50%的人喜欢它。",
}
"""Each language's punctuation, numbers, quotes and an English name inside."""
SPACY_STOP_WORDS = {"es": "es", "fr": "fr", "it": "it", "pt-br": "pt", "hi": "hi", "ja": "ja", "zh": "zh"}
DROPPED = {"it": {"\u032a"}}
"""Symbols espeak-ng writes that Kokoro's vocabulary lacks, dropped as upstream's tokenizer drops
them (the Italian dental mark of ``d'``)."""


def _lettered(c: str, cjk: bool) -> bool:
    """A letter (with its marks: Devanagari vowel signs) of the language's script."""
    if cjk:
        return c.isalpha() and c >= "\u3000"
    return c.isalpha() or c == "'" or unicodedata.category(c)[0] == "M"


def _language_corpus(lang: str) -> list[str]:
    """The hand-written sentences and spaCy's stop words for ``lang``, ten to a sentence."""
    words = sorted(importlib.import_module(f"spacy.lang.{SPACY_STOP_WORDS[lang]}.stop_words").STOP_WORDS)
    cjk = lang in ("ja", "zh")
    words = [w for w in words if all(_lettered(c, cjk) for c in w)]
    joiner, stop = ("", "。") if cjk else (" ", ".")
    return [CORPORA[lang], *(joiner.join(words[i : i + 10]) + stop for i in range(0, len(words), 10))]


@pytest.mark.parametrize("lang", list(CORPORA))
def test_language_corpus_phonemes_are_all_in_vocab(lang: str) -> None:
    fe = TextFrontend(VOCAB, lang).load()
    g2p = load_word_g2p(fe.lang)
    sentences = _language_corpus(lang)
    assert sum(len(s) for s in sentences) > 300
    raw_oov = set()
    for sentence in sentences:
        words = [w.spoken for w in fe.normalize(sentence).words]
        readings = g2p.phonemize(words)
        # every word is read, unless a geminate glued it to the word before (ja: ``aːʔamaɾʲi``)
        last, silent = "", []
        for word, reading in zip(words, readings):
            if not reading and "ʔ" not in last:
                silent.append(word)
            last = reading or last
        assert not silent, sentence
        raw_oov |= {p for ps in readings for p in ps if p not in VOCAB}
        assert set(fe.phonemize(sentence)) <= set(VOCAB)
    assert raw_oov == DROPPED.get(lang, set())


def test_words_of_many_parts_reach_misaki_cut_after_every_eighth() -> None:
    cut = _split_long_compounds("state-of-the-art " + "ab-" * 10 + "ab " + "AbC" * 9)
    words = cut.split()
    assert words[0] == "state-of-the-art"  # an ordinary compound is left whole
    assert "".join(words[1:]) == "ab-" * 10 + "ab" + "AbC" * 9  # nothing lost, only spaces added
    assert words[1:] == ["ab-" * 8, "ab-ab-ab", "AbC" * 4, "AbC" * 4, "AbC"]


@pytest.mark.parametrize("part", ["ab-", "aB", "éÉ"])
def test_lexicon_lookups_grow_linearly_with_the_parts_of_one_word(
    us: TextFrontend, part: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """misaki searches every run of a word's parts: a 300-character ``ab-ab-…`` held the model for minutes."""
    lexicon = type(load_g2p(False).lexicon)
    lookup, calls = lexicon.__call__, [0]

    def counted(self: object, *args: object, **kwargs: object) -> object:
        calls[0] += 1
        return lookup(self, *args, **kwargs)

    monkeypatch.setattr(lexicon, "__call__", counted)

    def lookups(repeats: int) -> int:
        calls[0] = 0
        assert us.phonemize(part * repeats)
        return calls[0]

    assert lookups(160) <= 5 * lookups(40)  # 4x the parts; cubic search was 16x the lookups and 64x the time
