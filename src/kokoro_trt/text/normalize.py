"""Text normalisation: written text -> speakable text, keeping each original word's spoken span."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import InvalidInputError
from .cleanup import CleanText, clean
from .rules import RULES, Rule

_PLAIN_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_PLAIN_KEEP = set(".,!?;:'\"()—…- \n")
_NO_SPACE_BEFORE = set(".,!?;:)…")
_BRACKETS = {"[": "(", "{": "(", "]": ")", "}": ")"}


@dataclass(frozen=True)
class WordSpan:
    """One original word (or rule match such as ``$5.3 billion``) and where its spoken form sits."""

    original: str
    spoken: str
    start: int
    end: int
    """Character span of the spoken form in :attr:`NormalizedText.text` (end exclusive)."""


@dataclass(frozen=True)
class PhonemeOverride:
    """Phonemes given inline for ``text[start:end]`` of the normalised text."""

    start: int
    end: int
    phonemes: str


@dataclass(frozen=True)
class NormalizedText:
    """Speakable text, its words mapped back to the original, and inline phoneme overrides."""

    text: str
    words: tuple[WordSpan, ...]
    overrides: tuple[PhonemeOverride, ...] = ()


@dataclass
class _Assembler:
    """Builds the normalised text: single spaces, no leading or trailing space, spans recorded."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    last: str = ""
    pending_space: bool = False
    words: list[WordSpan] = field(default_factory=list)
    overrides: list[PhonemeOverride] = field(default_factory=list)

    def _append(self, text: str) -> None:
        if self.pending_space and self.length:
            self.parts.append(" ")
            self.length += 1
        self.pending_space = False
        self.parts.append(text)
        self.length += len(text)
        self.last = text[-1]

    def add(self, text: str) -> None:
        """Punctuation and whitespace; a line break after a bare word becomes a full stop."""
        for ch in text:
            if ch == "\n" and self.last.isalnum():
                self._append(".")
            if ch.isspace():
                self.pending_space = True
            else:
                self.pending_space = self.pending_space and ch not in _NO_SPACE_BEFORE
                self._append(ch)

    def add_word(self, original: str, spoken: str, phonemes: str | None = None) -> None:
        spoken = " ".join(spoken.split())
        if not spoken:
            return
        if self.last.isalnum() and spoken[0].isalnum():
            self.pending_space = True
        self._append(spoken)
        start = self.length - len(spoken)
        self.words.append(WordSpan(original, spoken, start, self.length))
        if phonemes is not None:
            self.overrides.append(PhonemeOverride(start, self.length, phonemes))

    def result(self) -> NormalizedText:
        return NormalizedText("".join(self.parts), tuple(self.words), tuple(self.overrides))


def _scan(text: str) -> Iterator[tuple[int, int, Rule | None, re.Match | None]]:
    """Split text into rule matches (earliest wins, then rule order) and the plain gaps between them."""
    cache: dict[int, re.Match | None] = {}
    pos = 0
    while pos < len(text):
        best: tuple[Rule, re.Match] | None = None
        for i, rule in enumerate(RULES):
            m = cache.get(i, False)
            if m is False or (m is not None and m.start() < pos):
                m = cache[i] = rule.pattern.search(text, pos)
            if m is not None and (best is None or m.start() < best[1].start()):
                best = (rule, m)
        if best is None:
            break
        rule, m = best
        if m.start() > pos:
            yield pos, m.start(), None, None
        yield m.start(), m.end(), rule, m
        pos = m.end()
    if pos < len(text):
        yield pos, len(text), None, None


def _plain(text: str) -> str:
    """Keep letters and the punctuation the G2P understands; other symbols become spaces (same length)."""
    return "".join(c if c.isalpha() or c in _PLAIN_KEEP else _BRACKETS.get(c, " ") for c in text)


def _add_plain(out: _Assembler, clean_text: CleanText, start: int, end: int) -> None:
    gap = _plain(clean_text.text[start:end])
    pos = 0
    for w in _PLAIN_WORD.finditer(gap):
        out.add(gap[pos : w.start()])
        out.add_word(clean_text.original_span(start + w.start(), start + w.end()), w.group(0))
        pos = w.end()
    out.add(gap[pos:])


def normalize(text: str, british: bool = False) -> NormalizedText:
    """Normalise ``text``; raises :class:`InvalidInputError` when it is empty or has nothing to speak."""
    if not text or not text.strip():
        raise InvalidInputError("text is empty")
    cleaned = clean(text)
    out = _Assembler()
    for start, end, rule, m in _scan(cleaned.text):
        if rule is None or m is None:
            _add_plain(out, cleaned, start, end)
        elif not rule.is_word:
            out.add(rule.speak(m, british))
        else:
            spoken = rule.speak(m, british)
            core = spoken.rstrip(".")
            phonemes = m.group(2) if rule.name == "override" else None
            out.add_word(cleaned.original_span(start, end), core, phonemes)
            out.add(spoken[len(core) :])
    result = out.result()
    if not result.overrides and not any(c.isalpha() for c in result.text):
        raise InvalidInputError(f"text has nothing speakable: {text[:80]!r}")
    return result
