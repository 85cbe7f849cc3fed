"""Japanese G2P with misaki's conventions (upstream ``JAG2P()``: cutlet romanisation to IPA-like
phonemes, numbers read in Japanese by misaki's num2kana) on UniDic-lite readings, token by token.

Imported only when Japanese is first used: it loads fugashi (MeCab), unidic-lite and misaki.ja, which
itself imports pyopenjtalk (pyopenjtalk-plus bundles its dictionary, so nothing is downloaded)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import unidic_lite
from fugashi import Tagger
from jaconv import kata2hira
from misaki.cutlet import JA_WORDS, Word
from misaki.ja import JAG2P

from .latin import english_phonemes, is_latin_word
from .word_g2p import segment_around

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_GROUPED = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DECIMAL = re.compile(r"(?<=\d)\.(?=\d)")
"""``3.5`` is read さんてんご: the point becomes 点 before misaki spells the digits."""
_LONG_NUMBER = re.compile(r"\d{10,}")
"""misaki's num2kana reads at most nine digits (for more it returns an error message, whose "10" then
fails an assertion), so longer numbers are read digit by digit."""
_GLUE = re.compile(r" (?=ʔ)|(?<=ʔ) ")
"""misaki writes a geminate (ʔ) against both of its neighbours: ``maʔte``, not ``maʔ te``."""


class JapaneseG2P:
    """misaki's Japanese G2P with an explicit UniDic-lite tagger (fugashi would otherwise prefer the
    full ``unidic`` package, which needs a separate download)."""

    def __init__(self) -> None:
        dicdir = Path(unidic_lite.DICDIR)
        self.tagger = Tagger(f'-d "{dicdir}" -r "{dicdir / "mecabrc"}"')
        self.cutlet = JAG2P().cutlet
        self.cutlet.tagger = self.tagger

    def _tag(self, text: str) -> list[tuple[int, Word]]:
        """(offset in ``text``, misaki's word) of each MeCab token, readings chosen in context."""
        out, pos = [], 0
        for n in self.tagger(text):
            pos += len(n.white_space)
            reading = kata2hira(n.feature.pron or n.feature.kana or n.surface)
            out.append((pos, Word(n.surface, reading, 6 if n.char_type == 7 or not n.is_unk else n.char_type)))
            pos += len(n.surface)
        return out

    def _segment_text(self, text: str) -> list[str]:
        return ["".join(w.surface for w in group) for group in _groups([w for _, w in self._tag(text)])]

    def segment(self, run: str) -> list[str]:
        return segment_around(run, _NUMBER, self._segment_text)

    def phonemize(self, words: Sequence[str]) -> list[str]:
        spoken = [self.cutlet._normalize_text(_readable_digits(w)) for w in words]
        bounds = [0]
        for s in spoken:
            bounds.append(bounds[-1] + len(s))
        tagged = self._tag("".join(spoken))
        out = []
        for k, word in enumerate(words):
            inside = [w for o, w in tagged if bounds[k] <= o < bounds[k + 1]]
            roma = " ".join(t.surface.strip() for t in self.cutlet._romaji_tokens(inside) if t.surface.strip())
            out.append(english_phonemes(word) if is_latin_word(word) else _GLUE.sub("", roma))
        return _glue_words(out)


_LONGEST_WORD = max(map(len, JA_WORDS))


def _readable_digits(word: str) -> str:
    """``word`` with its numbers in the form misaki reads: no thousands separators, 点 for a decimal
    point, numbers longer than nine digits spaced digit by digit."""
    ungrouped = _DECIMAL.sub("点", _GROUPED.sub("", word))
    return _LONG_NUMBER.sub(lambda m: " ".join(m.group(0)), ungrouped)


def _groups(words: list[Word]) -> list[list[Word]]:
    """MeCab tokens grouped into misaki's dictionary words (``働い`` + ``て`` → ``働いて``), the grouping
    misaki's ``Cutlet._romaji_tokens`` applies, so that each group is one word as misaki spaces them."""
    groups, i = [], 0
    while i < len(words):
        found = (j for j in reversed(_word_ends(words, i)) if "".join(w.surface for w in words[i:j]) in JA_WORDS)
        j = next(found, i + 1)
        groups.append(words[i:j])
        i = j
    return groups


def _word_ends(words: list[Word], start: int) -> list[int]:
    """Where a dictionary word starting at ``words[start]`` may end: tokens of its character type, at most
    :data:`_LONGEST_WORD` characters in all (trying every run made a long run of one type cubic: 2,000
    letters took a minute)."""
    ends, length = [], 0
    for j in range(start, len(words)):
        length += len(words[j].surface)
        if words[j].char_type != words[start].char_type or length > _LONGEST_WORD:
            break
        ends.append(j + 1)
    return ends


def _glue_words(phonemes: list[str]) -> list[str]:
    """A geminate across two words joins them: the first word takes both readings, the second none."""
    out = list(phonemes)
    for k in range(len(out) - 1, 0, -1):
        a, b = out[k - 1], out[k]
        if a and b and (a.endswith("ʔ") or b.startswith("ʔ")):
            out[k - 1], out[k] = a + b, ""
    return out
