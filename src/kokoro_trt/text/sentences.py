"""Sentence splitting that knows what the normaliser knows: abbreviations, decimals, initials, times,
and each language's sentence punctuation (``。！？``, ``।``, ``¿…?``)."""

from __future__ import annotations

import itertools
import unicodedata

from .languages import ENGLISH, canonical_language
from .multilingual import normalize_multilingual
from .normalize import assemble


def _whole(run: str) -> list[str]:
    """No word segmentation: sentence ends do not depend on it (and jieba/MeCab stay unloaded)."""
    return [run]


def split_sentences(text: str, british: bool = False, *, lang: str | None = None) -> list[str]:
    """``text`` cut into sentences, each with its trailing whitespace; they concatenate to ``text``
    (NFC-composed). A full stop ends a sentence only where the normaliser keeps it as one, so
    ``Dr. Smith``, ``3.5``, ``J. K. Rowling`` and ``at 3 p.m. tomorrow`` never split, while
    ``at 3 p.m. Then`` and ``etc. The`` do. ``lang`` (any accepted name) overrides ``british``:
    Japanese and Chinese split after ``。！？`` even with no space, Hindi after ``।``."""
    text = unicodedata.normalize("NFC", text)
    code = canonical_language(lang) if lang is not None else ("en-gb" if british else "en-us")
    if code in ENGLISH:
        ends = assemble(text, code == "en-gb").sentence_ends
    else:
        ends = normalize_multilingual(text, _whole).sentence_ends
    cuts = [0]
    for end in ends:
        while end < len(text) and text[end].isspace():
            end += 1
        if cuts[-1] < end < len(text):
            cuts.append(end)
    cuts.append(len(text))
    return [text[a:b] for a, b in itertools.pairwise(cuts) if b > a]
