"""Sentence splitting that knows what the normaliser knows: abbreviations, decimals, initials, times."""

from __future__ import annotations

import itertools
import unicodedata

from .normalize import assemble


def split_sentences(text: str, british: bool = False) -> list[str]:
    """``text`` cut into sentences, each with its trailing whitespace; they concatenate to ``text``
    (NFC-composed). A full stop ends a sentence only where the normaliser keeps it as one, so
    ``Dr. Smith``, ``3.5``, ``J. K. Rowling`` and ``at 3 p.m. tomorrow`` never split, while
    ``at 3 p.m. Then`` and ``etc. The`` do."""
    text = unicodedata.normalize("NFC", text)
    cuts = [0]
    for end in assemble(text, british).sentence_ends:
        while end < len(text) and text[end].isspace():
            end += 1
        if cuts[-1] < end < len(text):
            cuts.append(end)
    cuts.append(len(text))
    return [text[a:b] for a, b in itertools.pairwise(cuts) if b > a]
