"""Character-level clean-up that remembers where every output character came from."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from .overrides import OVERRIDE_RE

_QUOTES = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "ʼ": "'",
    "′": "'",
    "`": "'",
    "´": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "″": '"',
    "−": "-",
    "‐": "-",
    "‑": "-",
}
_DIRECTED_QUOTES = set("“”«»")
"""Kept by the non-English front-ends, which tell opening from closing quotes as misaki does."""
_KEEP = set("²³°")
"""Characters NFKC would wrongly flatten (``km²`` must not become ``km2``)."""
_SYMBOLS = set("$£€¥%&+@#=×±→*/\\<>~^|_…–—-()[]{}.,!?;:'\"")
"""Non-letters the rules or the G2P understand; other symbols (emoji, dingbats...) become spaces."""
_SCRIPT_CHARS = frozenset({"Mn", "Mc", "Me", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sc", "Sm"})
"""Unicode categories the non-English front-ends keep: marks (Devanagari vowel signs), punctuation,
currency and maths signs."""


@dataclass(frozen=True)
class CleanText:
    """Cleaned text and, for every character of it, the index of the original character."""

    text: str
    origin: tuple[int, ...]
    original: str

    def original_span(self, start: int, end: int) -> str:
        """The original text behind ``text[start:end]``."""
        if start >= end:
            return ""
        return self.original[self.origin[start] : self.origin[end - 1] + 1]


def _letter(c: str, all_scripts: bool) -> str:
    """Latin letters stay, Greek ones are named (``α`` -> ``alpha``), other scripts are dropped
    unless ``all_scripts`` (the non-English front-ends read their own scripts)."""
    if all_scripts:
        return c
    name = unicodedata.name(c, "")
    if name.startswith("LATIN"):
        # misaki assumes lower() keeps one character; İ (-> i̇) would crash it.
        return c if len(c.lower()) == 1 else unicodedata.normalize("NFKD", c)[0]
    if name.startswith("GREEK") and "LETTER" in name:
        return f" {name.split()[-1].lower()} "
    return " "


def _other(ch: str, all_scripts: bool) -> str:
    """A character that is neither a letter nor a known symbol: any script's digits become ASCII ones
    (``٣`` -> ``3``); with ``all_scripts``, other numerals (``〇``), marks, punctuation (``。``, ``¿``,
    ``।``) and currency or maths signs stay; everything else (emoji, dingbats...) becomes a space."""
    if ch.isdecimal():
        return str(unicodedata.digit(ch))
    if not all_scripts:
        return " "
    return ch if ch.isnumeric() or unicodedata.category(ch) in _SCRIPT_CHARS else " "


@functools.lru_cache(maxsize=4096)
def clean_char(c: str, all_scripts: bool = False) -> str:
    """The replacement for one character (possibly empty or several characters); ``all_scripts``
    keeps every script's letters, marks and punctuation instead of only what English reads. Cached: a
    text repeats a few dozen characters, each looked up in Unicode's tables here."""
    if c in _QUOTES:
        return c if all_scripts and c in _DIRECTED_QUOTES else _QUOTES[c]
    if c in "\n\r\u2028\u2029":
        return "\n"
    if c.isspace():
        return " "
    if c in _KEEP:
        return c
    category = unicodedata.category(c)
    if category[0] == "C" or (category[0] == "M" and not all_scripts):  # controls, stray marks
        return ""
    if "VULGAR FRACTION" in unicodedata.name(c, ""):
        return " " + unicodedata.normalize("NFKC", c).replace("⁄", "/") + " "
    out = []
    for ch in unicodedata.normalize("NFKC", c):
        if ch in _QUOTES:
            out.append(_QUOTES[ch])
        elif ch.isalpha():
            out.append(_letter(ch, all_scripts))
        elif "0" <= ch <= "9" or ch in _SYMBOLS or ch == " ":
            out.append(ch)
        else:
            out.append(_other(ch, all_scripts))
    return "".join(out)


def clean(text: str, all_scripts: bool = False) -> CleanText:
    """NFC-compose, then clean character by character; inline phoneme overrides pass untouched."""
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    origin: list[int] = []
    i = 0
    for m in [*OVERRIDE_RE.finditer(text), None]:
        stop = m.start() if m else len(text)
        for j in range(i, stop):
            piece = clean_char(text[j], all_scripts)
            out.append(piece)
            origin.extend([j] * len(piece))
        if m:
            out.append(m.group(0))
            origin.extend(range(m.start(), m.end()))
            i = m.end()
    return CleanText("".join(out), tuple(origin), text)
