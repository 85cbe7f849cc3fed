"""The nine languages: names and voices, per-language G2P, punctuation, numbers, words and sentences."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kokoro_trt.config import ModelConfig
from kokoro_trt.errors import InvalidInputError
from kokoro_trt.text import TextFrontend, canonical_language, japanese, split_sentences, voice_language
from kokoro_trt.text.languages import LANGUAGES
from kokoro_trt.text.word_g2p import MissingLanguageSupportError, load_word_g2p

VOCAB = ModelConfig.default().vocab
STRESS = str.maketrans("", "", "ˈˌ")


@pytest.fixture(scope="module")
def fe():
    """One loaded front-end per language, shared by the tests of this module."""
    cache: dict[str, TextFrontend] = {}

    def get(lang: str) -> TextFrontend:
        if lang not in cache:
            cache[lang] = TextFrontend(VOCAB, lang).load()
        return cache[lang]

    return get


def plain(phonemes: str) -> str:
    return phonemes.translate(STRESS)


# Names and voices


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("a", "en-us"),
        ("b", "en-gb"),
        ("e", "es"),
        ("f", "fr"),
        ("h", "hi"),
        ("i", "it"),
        ("j", "ja"),
        ("p", "pt-br"),
        ("z", "zh"),
        ("EN", "en-us"),
        ("en-GB", "en-gb"),
        ("fr-FR", "fr"),
        ("pt", "pt-br"),
        ("PT_BR", "pt-br"),
        ("ja", "ja"),
        ("zh", "zh"),
        (" es ", "es"),
    ],
)
def test_canonical_language(name: str, code: str) -> None:
    assert canonical_language(name) == code


@pytest.mark.parametrize("name", ["de", "english", "", "x"])
def test_unknown_language_lists_the_accepted_ones(name: str) -> None:
    with pytest.raises(InvalidInputError, match=r"accepted: .*\bes\b.*\bpt-br\b"):
        canonical_language(name)


def test_canonical_codes() -> None:
    assert list(LANGUAGES) == ["en-us", "en-gb", "es", "fr", "hi", "it", "ja", "pt-br", "zh"]


@pytest.mark.parametrize(
    ("voice", "lang"),
    [
        ("af_heart", "en-us"),
        ("bm_george", "en-gb"),
        ("ef_dora", "es"),
        ("ff_siwis", "fr"),
        ("hm_omega", "hi"),
        ("im_nicola", "it"),
        ("jf_alpha", "ja"),
        ("pm_alex", "pt-br"),
        ("zf_xiaobei", "zh"),
        ("ef_dora(0.5)+af_heart(0.5)", "es"),
        ("af_heart(0.3)+zf_xiaobei(0.7)", "en-us"),
        ("narrator", None),
        ("xf_unknown", None),
    ],
)
def test_voice_language(voice: str, lang: str | None) -> None:
    assert voice_language(voice) == lang


def test_frontend_accepts_any_name_and_keeps_the_canonical_one() -> None:
    assert TextFrontend(VOCAB, "e").lang == "es"
    assert TextFrontend(VOCAB, "fr-FR").lang == "fr"
    with pytest.raises(InvalidInputError):
        TextFrontend(VOCAB, "de")


# Lazy loading


def test_importing_loads_no_language_package() -> None:
    code = (
        "import sys, kokoro_trt, kokoro_trt.text as t;"
        "from kokoro_trt.config import ModelConfig;"
        "t.TextFrontend(ModelConfig.default().vocab, 'zh'); t.split_sentences('你好。再见。', lang='zh');"
        "print(sorted(m for m in ('jieba', 'pyopenjtalk', 'fugashi', 'cn2an', 'pypinyin') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "kokoro_trt.text.mandarin", raising=False)
    monkeypatch.setitem(sys.modules, "jieba", None)
    with pytest.raises(MissingLanguageSupportError, match=r"pip install 'kokoro-trt\[languages\]'"):
        load_word_g2p.__wrapped__("zh")


# Phonemes: each language read in its own G2P, numbers in its own words


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("es", "¿Cómo estás? ¡Muy bien!", "komo estas? muj βjen!"),
        ("es", "Tengo 1.250 euros.", "tɛŋɡo mil ðosθjentos θinkwɛnta eʊɾos."),
        ("es", "Son 3,5 kilos.", "son tɾes koma θinko kilos."),
        ("fr", "Les amis sont là.", "lez ami sɔ̃ la."),
        ("fr", "J'ai 20 ans.", "ʒe vɛ̃t ɑ̃."),
        ("it", "Ho 21 anni.", "o ventuno annɪ."),
        ("pt-br", "Obrigado, tudo bem?", "obriɡadʊ, tudʊ bAŋ?"),
        ("hi", "मेरे पास १२५० रुपये हैं।", "meːɾeː paːs eːk hʌɟaːɾ doːsɔː pəcaːs ɾʊpjeː hɛ̃."),
        ("ja", "こんにちは、世界！", "koɲɲiʨiβa, sekai!"),
        ("ja", "2025年です。", "ɲi seɴ ɲiʥɨːɡo neɴ desɨ."),
        ("ja", "「はい」と言った。", "“hai” to iʔta."),
        ("zh", "你好，世界！", "ni↓xau↓, ʂɨ↘ʨje↘!"),
        ("zh", "我有1250元。", "wo↓ jou↓ i→ʨʰjɛ→n ɚ↘pai↓u↓ʂɨ↗ɥɛ↗n."),
    ],
)
def test_language_phonemes(fe, lang: str, text: str, expected: str) -> None:
    assert plain(fe(lang).phonemize(text)) == expected


def test_english_number_normaliser_is_not_applied(fe) -> None:
    """Digits reach espeak as digits: Spanish reads them in Spanish, not as English words."""
    assert "θinkwɛnta" in plain(fe("es").phonemize("Tengo 50 años."))
    assert "fɪfti" not in plain(fe("es").phonemize("Tengo 50 años."))


@pytest.mark.parametrize(
    ("lang", "text", "english"),
    [
        ("es", "Trabajo en Google.", "ɡuɣəl"),
        ("ja", "Googleで働いています。", "ɡuɡᵊl"),
        ("zh", "我在Google工作。", "ɡuɡᵊl"),
        ("zh", "我用iPhone。", "fOn"),
    ],
)
def test_english_inside_other_languages(fe, lang: str, text: str, english: str) -> None:
    phonemes = fe(lang).phonemize(text)
    assert english in plain(phonemes)
    assert set(phonemes) <= set(VOCAB)


@pytest.mark.parametrize(
    ("lang", "text", "normalized"),
    [
        ("hi", "नमस्ते", "नमस्ते"),
        ("ja", "こんにちは", "こんにちは"),
        ("zh", "你好", "你好"),
        ("es", "¿Qué?", "¿Qué?"),
        ("hi", "१२३", "123"),  # any script's digits become ASCII ones for espeak to read in Hindi
    ],
)
def test_no_script_is_dropped(fe, lang: str, text: str, normalized: str) -> None:
    assert fe(lang).normalize(text).text == normalized
    assert fe(lang).chunks(text)[0].token_ids


def test_nothing_speakable_is_refused(fe) -> None:
    with pytest.raises(InvalidInputError, match="nothing speakable"):
        fe("ja").chunks("。！？")
    with pytest.raises(InvalidInputError, match="text is empty"):
        fe("zh").chunks("   ")


def test_lexicon_and_inline_override(fe) -> None:
    assert "kˈOkəɹO" in fe("es").phonemize("Hola Kokoro.", lexicon={"Kokoro": "kˈOkəɹO"})
    assert fe("zh").phonemize("[你好](/hˈɛlO/)，世界。").startswith("hˈɛlO,")


# Words (timestamps) and chunks


def _chunk_words(frontend: TextFrontend, text: str) -> list[tuple[str, str]]:
    chunk = frontend.chunks(text)[0]
    return [(w.text, chunk.phonemes[w.start_token : w.end_token]) for w in chunk.words]


def test_chinese_words_are_jieba_words(fe) -> None:
    words = _chunk_words(fe("zh"), "我们去公园散步。")
    assert [w for w, _ in words] == ["我们", "去", "公园", "散步"]
    assert all(ps for _, ps in words)


def test_japanese_words_are_misaki_words(fe) -> None:
    words = _chunk_words(fe("ja"), "今日は2025年です。")
    assert words == [
        ("今日", "kʲoː"),
        ("は", "βa"),
        ("2025", "ɲi seɴ ɲiʥɨːɡo"),
        ("年", "neɴ"),
        ("です", "desɨ"),
    ]


def test_japanese_reads_numbers_of_ten_digits_and_more_digit_by_digit(fe) -> None:
    """misaki's num2kana stops at nine digits; a longer number failed an assertion deep inside it."""
    words = dict(_chunk_words(fe("ja"), "番号は12345678901です。"))
    assert words["12345678901"].split() == fe("ja").phonemize("1 2 3 4 5 6 7 8 9 0 1").split()


def test_japanese_word_search_is_linear_in_a_run_of_one_script(fe, monkeypatch: pytest.MonkeyPatch) -> None:
    """Grouping tokens into dictionary words tried every run of a script: 2,000 letters took a minute."""
    lookups = [0]

    class Counted(frozenset):
        def __contains__(self, word: object) -> bool:
            lookups[0] += 1
            return super().__contains__(word)

    monkeypatch.setattr(japanese, "JA_WORDS", Counted(japanese.JA_WORDS))

    def count(letters: int) -> int:
        lookups[0] = 0
        assert fe("ja").phonemize("a" * letters)
        return lookups[0]

    assert count(800) <= 5 * count(200)


def test_french_words_keep_liaison_context(fe) -> None:
    words = _chunk_words(fe("fr"), "Les amis arrivent.")
    assert [w for w, _ in words] == ["Les", "amis", "arrivent"]
    assert plain(words[0][1]) == "lez"  # the liaison /z/ read in context, kept on its word


def test_long_japanese_chunks_end_at_sentences(fe) -> None:
    text = "今日はとても良い天気です。" * 30
    chunks = fe("ja").chunks(text, max_tokens=100)
    assert len(chunks) > 3
    assert "".join(c.text for c in chunks) == fe("ja").normalize(text).text
    assert all(c.text.endswith("。") and c.phonemes.endswith(".") for c in chunks)


# Sentences


@pytest.mark.parametrize(
    ("lang", "text", "sentences"),
    [
        ("ja", "今日は晴れです。明日は雨！本当？", ["今日は晴れです。", "明日は雨！", "本当？"]),
        ("zh", "你好。我很好！你呢？", ["你好。", "我很好！", "你呢？"]),
        ("es", "¿Cómo estás? ¡Bien! Son 3.5 euros.", ["¿Cómo estás? ", "¡Bien! ", "Son 3.5 euros."]),
        ("hi", "मैं ठीक हूँ। आप कैसे हैं?", ["मैं ठीक हूँ। ", "आप कैसे हैं?"]),
        ("fr", "«Bonjour.» Il est parti.", ["«Bonjour.» ", "Il est parti."]),
        ("en-us", "Dr. Smith came. He left.", ["Dr. Smith came. ", "He left."]),
    ],
)
def test_split_sentences_per_language(lang: str, text: str, sentences: list[str]) -> None:
    assert split_sentences(text, lang=lang) == sentences
