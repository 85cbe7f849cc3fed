"""Normalisation for the non-English languages: every script kept, each language's punctuation
understood, numbers left as digits for that language's G2P to read (never the English number words)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .cleanup import CleanText, clean
from .normalize import NormalizedText, PhonemeOverride, WordSpan
from .overrides import OVERRIDE_RE
from .punctuation import CLOSERS, SENTENCE_END

PUNCTUATION = {
    **{p: p for p in '.,!?;:…—"()'},
    "–": "—",
    "[": "(",
    "]": ")",
    "{": "(",
    "}": ")",
    "。": ".",
    "｡": ".",
    "।": ".",
    "॥": ".",
    "、": ",",
    "､": ",",
    "，": ",",
    "！": "!",
    "？": "?",
    "；": ";",
    "：": ":",
    "（": "(",
    "）": ")",
    **{p: "“" for p in "“«「『【《〈"},
    **{p: "”" for p in "”»」』】》〉"},
    "¿": "",
    "¡": "",
    "・": "",
}
"""Written punctuation → the model's punctuation symbol ('' for marks it has none for: Kokoro's
vocabulary has no ``¿``/``¡``, upstream drops them too)."""
OPENING = frozenset("“«(¿¡「『【《〈（[{")
"""Marks that lean on the word after them; the rest lean on the word before."""
_UNSPACED_STOPS = frozenset("。！？｡।॥")
"""Sentence ends that need no space after them (CJK full stops, the Devanagari danda)."""
_CJK = "\u2e80"
"""From here on, scripts written without spaces: any stop (even NFKC's ``!`` for ``！``) before
one of their characters ends a sentence."""
_TOKEN = re.compile(
    rf"(?P<space>\s+)|(?P<punct>[{re.escape(''.join(PUNCTUATION))}])"
    rf"|(?P<word>(?:[^\s{re.escape(''.join(PUNCTUATION))}]|(?<=\d)[.,:](?=\d))+)"
)
"""A word keeps the separators inside a number (``1.250,5``, ``12:30``)."""
_STOP = re.compile(rf"[{re.escape(''.join(SENTENCE_END))}]+[{re.escape(CLOSERS)}]*")

Segmenter = Callable[[str], list[str]]
"""Splits a run of text without spaces or punctuation into words (jieba, MeCab, or no split)."""


@dataclass
class _Builder:
    """The normalised text: single spaces, no leading or trailing space, words and sources recorded."""

    chars: list[str] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    """For every output character, the index of the cleaned-text character it comes from."""
    pending_space: bool = False
    words: list[WordSpan] = field(default_factory=list)
    overrides: list[PhonemeOverride] = field(default_factory=list)

    def add(self, text: str, source: int) -> None:
        if self.pending_space and self.chars:
            self.chars.append(" ")
            self.sources.append(self.sources[-1])
        self.pending_space = False
        self.chars += text
        self.sources += [source] * len(text)

    def space(self) -> None:
        self.pending_space = True

    def word(self, original: str, spoken: str, source: int, phonemes: str | None) -> None:
        self.add(spoken, source)
        span = WordSpan(original, spoken, len(self.chars) - len(spoken), len(self.chars))
        self.words.append(span)
        if phonemes is not None:
            self.overrides.append(PhonemeOverride(span.start, span.end, phonemes))

    def result(self, cleaned: CleanText) -> NormalizedText:
        text = "".join(self.chars)
        ends = tuple(cleaned.origin[self.sources[i]] + 1 for i in _sentence_ends(text))
        return NormalizedText(text, tuple(self.words), tuple(self.overrides), ends)


def _sentence_ends(text: str) -> list[int]:
    """Indices of the last character (closers included) of each sentence of normalised text."""
    return [
        m.end() - 1
        for m in _STOP.finditer(text)
        if m.end() == len(text)
        or text[m.end()].isspace()
        or text[m.end()] >= _CJK
        or not _UNSPACED_STOPS.isdisjoint(m[0])
    ]


def _add_run(
    out: _Builder, cleaned: CleanText, start: int, end: int, segment: Segmenter, lexicon: Mapping[str, str]
) -> None:
    """Text outside inline overrides: spaces, punctuation and the words ``segment`` finds."""
    text = cleaned.text
    for m in _TOKEN.finditer(text, start, end):
        if m["space"]:
            if "\n" in m[0] and out.chars and out.chars[-1].isalnum():
                out.add(".", m.start())
            out.space()
        elif m["punct"]:
            out.add(m[0], m.start())
        else:
            cursor = m.start()
            for w in segment(m[0]):
                found = text.find(w, cursor, m.end())
                at = found if found >= 0 else cursor
                cursor = at + len(w)
                phonemes = lexicon.get(w, lexicon.get(w.lower()))
                out.word(cleaned.original_span(at, cursor), w, cursor - 1, phonemes)


def normalize_multilingual(text: str, segment: Segmenter, lexicon: Mapping[str, str] | None = None) -> NormalizedText:
    """``text`` cleaned (every script kept), spaces collapsed, and split into words by ``segment``;
    ``[word](/phonemes/)`` and words found in ``lexicon`` take the given phonemes."""
    cleaned = clean(text, all_scripts=True)
    out = _Builder()
    pos = 0
    for m in [*OVERRIDE_RE.finditer(cleaned.text), None]:
        stop = m.start() if m else len(cleaned.text)
        _add_run(out, cleaned, pos, stop, segment, lexicon or {})
        if m:
            out.word(m[1], " ".join(m[1].split()), m.end() - 1, m[2])
            pos = m.end()
    return out.result(cleaned)
