"""Mandarin G2P with misaki's conventions for Kokoro-82M v1.0 (upstream ``ZHG2P(version=None)``):
cn2an reads numbers in Chinese, jieba segments, pypinyin gives tone-3 pinyin, misaki maps it to IPA
with tone arrows. All three packages ship their data, so nothing is downloaded.

Imported only when Mandarin is first used (jieba takes about a second to build its dictionary)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import cn2an
import jieba
from misaki.zh import ZHG2P

from .latin import english_phonemes, is_latin_word
from .word_g2p import segment_around

jieba.setLogLevel(logging.WARNING)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:[.:]\d+)?%?[\u4e00-\u9fff]?")
"""A number with its measure word or date unit (``2025年`` reads digit by digit, ``1250元`` as a
quantity): cn2an needs that character to choose the reading."""
_NON_SYLLABIC = "\u032f"
"""misaki's legacy (v1.0) output drops the non-syllabic mark of ``xau̯``."""


class MandarinG2P:
    """Word-by-word ``ZHG2P`` (legacy mode): each jieba word becomes one phoneme word."""

    def __init__(self) -> None:
        jieba.initialize()

    def segment(self, run: str) -> list[str]:
        return segment_around(run, _NUMBER, jieba.lcut)

    def phonemize(self, words: Sequence[str]) -> list[str]:
        return [_word(w) for w in words]


def _word(word: str) -> str:
    if is_latin_word(word):
        return english_phonemes(word)
    if any(c.isdigit() for c in word):
        spoken = cn2an.transform(word.replace(",", "").replace(":", "点"), "an2cn")
        return " ".join(p for p in map(_han, jieba.lcut(spoken)) if p)
    return _han(word)


def _han(word: str) -> str:
    """The Chinese characters of ``word`` in IPA; anything else in it is silent."""
    han = "".join(_HAN.findall(word))
    return ZHG2P.word2ipa(han).replace(_NON_SYLLABIC, "") if han else ""
