"""Text normalisation: written text -> speakable text, keeping each original word's spoken span."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import InvalidInputError
from .cleanup import CleanText, clean
from .options import NormalizationOptions
from .punctuation import CLOSERS, SENTENCE_END
from .rules import RULES, Rule

_PLAIN_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_RAW_WORD = re.compile(r"(?<![^\s\"()\[\]{}])[^\s\"()\[\]{}]*[\w%]")
"""A word when normalisation is off: numbers, symbols and all, without trailing punctuation."""
_PLAIN_KEEP = set(".,!?;:'\"()—…- \n")
_EVERY_PART = NormalizationOptions(unit_normalization=True)
"""What ``options=None`` means: every part runs (Kokoro-FastAPI's defaults leave units alone)."""
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
    sentence_ends: tuple[int, ...] = ()
    """Offsets in the (NFC-composed) original text just after each sentence's final punctuation."""


@dataclass
class _Assembler:
    """Builds the normalised text: single spaces, no leading or trailing space, spans recorded."""

    parts: list[str] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    """For every output character, the index of the cleaned-text character it comes from."""
    length: int = 0
    last: str = ""
    pending_space: bool = False
    words: list[WordSpan] = field(default_factory=list)
    overrides: list[PhonemeOverride] = field(default_factory=list)

    def _append(self, text: str, source: int) -> None:
        if self.pending_space and self.length:
            self.parts.append(" ")
            self.sources.append(self.sources[-1])
            self.length += 1
        self.pending_space = False
        self.parts.append(text)
        self.sources.extend([source] * len(text))
        self.length += len(text)
        self.last = text[-1]

    def add(self, text: str, sources: Sequence[int]) -> None:
        """Punctuation and whitespace (from ``sources``); a line break after a bare word becomes a full stop."""
        for ch, source in zip(text, sources):
            if ch == "\n" and self.last.isalnum():
                self._append(".", source)
            if ch.isspace():
                self.pending_space = True
            else:
                self.pending_space = self.pending_space and ch not in _NO_SPACE_BEFORE
                self._append(ch, source)

    def add_word(self, original: str, spoken: str, source: int, phonemes: str | None = None) -> None:
        spoken = " ".join(spoken.split())
        if not spoken:
            return
        if self.last.isalnum() and spoken[0].isalnum():
            self.pending_space = True
        self._append(spoken, source)
        start = self.length - len(spoken)
        self.words.append(WordSpan(original, spoken, start, self.length))
        if phonemes is not None:
            self.overrides.append(PhonemeOverride(start, self.length, phonemes))

    def result(self, cleaned: CleanText) -> NormalizedText:
        text = "".join(self.parts)
        ends = tuple(cleaned.origin[self.sources[i]] + 1 for i in _sentence_ends(text))
        return NormalizedText(text, tuple(self.words), tuple(self.overrides), ends)


def _sentence_ends(text: str) -> Iterator[int]:
    """Indices of the last character (closing quotes included) of each sentence of normalised text."""
    for m in re.finditer(rf"[{re.escape(''.join(SENTENCE_END))}]+[{re.escape(CLOSERS)}]*(?=\s+[^a-z]|$)", text):
        yield m.end() - 1


@functools.cache
def _rules(options: NormalizationOptions) -> tuple[Rule, ...]:
    if not options.normalize:
        return tuple(r for r in RULES if r.name == "override")
    disabled = options.disabled_rules()
    return tuple(r for r in RULES if r.name not in disabled)


def _scan(text: str, rules: Sequence[Rule]) -> Iterator[tuple[int, int, Rule | None, re.Match | None]]:
    """Split text into rule matches (earliest wins, then rule order) and the plain gaps between them."""
    cache: dict[int, re.Match | None] = {}  # each rule's next match from pos (None: no more)
    pos = 0
    while pos < len(text):
        best: tuple[Rule, re.Match] | None = None
        for i, rule in enumerate(rules):
            m = cache[i] if i in cache else rule.pattern.search(text, pos)
            if m is not None and m.start() < pos:
                m = rule.pattern.search(text, pos)
            cache[i] = m
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


def _lookup(lexicon: Mapping[str, str], word: str) -> str | None:
    """A word's phonemes from a user lexicon: the exact spelling first, then the lower-case one."""
    found = lexicon.get(word)
    return found if found is not None else lexicon.get(word.lower())


def _add_plain(
    out: _Assembler, clean_text: CleanText, start: int, end: int, raw: bool, lexicon: Mapping[str, str]
) -> None:
    """Text no rule matched: words (looked up in ``lexicon``) and the punctuation between them."""
    gap = clean_text.text[start:end] if raw else _plain(clean_text.text[start:end])
    pos = 0
    for w in (_RAW_WORD if raw else _PLAIN_WORD).finditer(gap):
        out.add(gap[pos : w.start()], range(start + pos, start + w.start()))
        original = clean_text.original_span(start + w.start(), start + w.end())
        out.add_word(original, w.group(0), start + w.end() - 1, _lookup(lexicon, w.group(0)))
        pos = w.end()
    out.add(gap[pos:], range(start + pos, end))


def assemble(
    text: str,
    british: bool = False,
    options: NormalizationOptions | None = None,
    lexicon: Mapping[str, str] | None = None,
) -> NormalizedText:
    """Normalise ``text`` without judging it: empty or unspeakable input gives empty or silent text."""
    cleaned = clean(text)
    options = options or _EVERY_PART
    out = _Assembler()
    for start, end, rule, m in _scan(cleaned.text, _rules(options)):
        if rule is None or m is None:
            _add_plain(out, cleaned, start, end, not options.normalize, lexicon or {})
            continue
        spoken = rule.speak(m, british)
        if not rule.is_word:
            out.add(spoken, [end - 1] * len(spoken))
            continue
        core = spoken.rstrip(".")
        if rule.name == "override":  # the written word is the displayed one, not the markup
            out.add_word(m.group(1), core, end - 1, m.group(2))
        else:
            out.add_word(cleaned.original_span(start, end), core, end - 1)
        out.add(spoken[len(core) :], [end - 1] * (len(spoken) - len(core)))
    return out.result(cleaned)


def normalize(
    text: str,
    british: bool = False,
    options: NormalizationOptions | None = None,
    lexicon: Mapping[str, str] | None = None,
) -> NormalizedText:
    """Normalise ``text`` (every part on unless ``options`` switch some off; plain words found in
    ``lexicon`` get its phonemes); raises :class:`InvalidInputError` when there is nothing to speak."""
    require_text(text)
    result = assemble(text, british, options, lexicon)
    speakable = str.isalpha if options is None or options.normalize else str.isalnum
    return require_speakable(text, result, speakable)


def require_text(text: str) -> None:
    """Raises :class:`InvalidInputError` for empty or blank text."""
    if not text or not text.strip():
        raise InvalidInputError("text is empty")


def require_speakable(
    text: str, result: NormalizedText, speakable: Callable[[str], bool] = str.isalnum
) -> NormalizedText:
    """``result`` (the normalised ``text``) when it has an override or a ``speakable`` character;
    raises :class:`InvalidInputError` when there is nothing to speak."""
    if not result.overrides and not any(speakable(c) for c in result.text):
        raise InvalidInputError(f"text has nothing speakable: {text[:80]!r}")
    return result
