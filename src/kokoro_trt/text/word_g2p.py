"""Non-English G2P behind one interface, each language's packages imported only when first used."""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Sequence
from typing import Protocol

from ..errors import KokoroError
from .languages import LANGUAGES

EXTRA = "languages"
"""The pip extra that installs the Japanese and Mandarin G2P packages."""


class MissingLanguageSupportError(KokoroError, ImportError):
    """A language's optional G2P package is not installed; the message names the pip extra."""


class WordG2P(Protocol):
    """A language's G2P, word by word so that word timestamps survive."""

    def segment(self, run: str) -> list[str]:
        """Split ``run`` (no whitespace, no punctuation) into words; ja/zh need a segmenter."""
        ...

    def phonemize(self, words: Sequence[str]) -> list[str]:
        """One phoneme string per word ('' when silent), read in context as one clause."""
        ...


_MODULES = {"ja": ("japanese", "JapaneseG2P"), "zh": ("mandarin", "MandarinG2P")}


@functools.cache
def load_word_g2p(lang: str) -> WordG2P:
    """The G2P for a canonical non-English code, built once per process. Never downloads."""
    espeak_voice = LANGUAGES[lang].espeak
    try:
        if espeak_voice is not None:
            from .espeak_words import EspeakWordG2P

            return EspeakWordG2P(lang, espeak_voice)
        module, name = _MODULES[lang]
        return getattr(importlib.import_module(f".{module}", __package__), name)()
    except ImportError as exc:
        raise MissingLanguageSupportError(
            f"{LANGUAGES[lang].name} needs a package that is not installed ({exc.name or exc}); "
            f"install it with: pip install 'kokoro-trt[{EXTRA}]'"
        ) from exc


def segment_around(run: str, number: re.Pattern[str], segment: Callable[[str], list[str]]) -> list[str]:
    """``run`` split by ``segment`` except that each ``number`` match stays one word (a segmenter
    would cut ``1,250`` at its comma)."""
    words, pos = [], 0
    for m in number.finditer(run):
        words += [*segment(run[pos : m.start()]), m[0]]
        pos = m.end()
    return [w for w in [*words, *segment(run[pos:])] if w]
