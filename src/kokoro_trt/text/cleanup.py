"""Character-level clean-up that remembers where every output character came from."""

from __future__ import annotations

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
_KEEP = set("²³°")
"""Characters NFKC would wrongly flatten (``km²`` must not become ``km2``)."""
_SYMBOLS = set("$£€¥%&+@#=×*/\\<>~^|_…–—-()[]{}.,!?;:'\"")
"""Non-letters the rules or the G2P understand; other symbols (emoji, dingbats...) become spaces."""


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


def _letter(c: str) -> str:
    """Latin letters stay, Greek ones are named (``α`` -> ``alpha``), other scripts are dropped."""
    name = unicodedata.name(c, "")
    if name.startswith("LATIN"):
        # misaki assumes lower() keeps one character; İ (-> i̇) would crash it.
        return c if len(c.lower()) == 1 else unicodedata.normalize("NFKD", c)[0]
    if name.startswith("GREEK") and "LETTER" in name:
        return f" {name.split()[-1].lower()} "
    return " "


def clean_char(c: str) -> str:
    """The replacement for one character (possibly empty or several characters)."""
    if c in _QUOTES:
        return _QUOTES[c]
    if c in "\n\r\u2028\u2029":
        return "\n"
    if c.isspace():
        return " "
    if c in _KEEP:
        return c
    category = unicodedata.category(c)
    if category[0] in "CM":  # controls, format chars, unassigned, stray combining marks
        return ""
    if "VULGAR FRACTION" in unicodedata.name(c, ""):
        return " " + unicodedata.normalize("NFKC", c).replace("⁄", "/") + " "
    out = []
    for ch in unicodedata.normalize("NFKC", c):
        if ch in _QUOTES:
            out.append(_QUOTES[ch])
        elif ch.isalpha():
            out.append(_letter(ch))
        elif "0" <= ch <= "9" or ch in _SYMBOLS or ch == " ":
            out.append(ch)
        else:
            out.append(" ")
    return "".join(out)


def clean(text: str) -> CleanText:
    """NFC-compose, then clean character by character; inline phoneme overrides pass untouched."""
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    origin: list[int] = []
    i = 0
    for m in [*OVERRIDE_RE.finditer(text), None]:
        stop = m.start() if m else len(text)
        for j in range(i, stop):
            piece = clean_char(text[j])
            out.append(piece)
            origin.extend([j] * len(piece))
        if m:
            out.append(m.group(0))
            origin.extend(range(m.start(), m.end()))
            i = m.end()
    return CleanText("".join(out), tuple(origin), text)
