"""English words met inside Japanese or Mandarin text (brand names, acronyms): read as English."""

from __future__ import annotations

import re

from .g2p import g2p_tokens

_LATIN_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")


def is_latin_word(word: str) -> bool:
    """Whether ``word`` is written in plain Latin letters (``Google``, ``iPhone``, ``AI``)."""
    return _LATIN_WORD.fullmatch(word) is not None


def english_phonemes(word: str) -> str:
    """American English phonemes of ``word`` (misaki's lexicon, espeak-ng for unknown words)."""
    return " ".join(tk.phonemes for tk in g2p_tokens(word, british=False) if tk.phonemes)
