"""es, fr, it, pt-br and hi through espeak-ng with misaki's ``EspeakG2P`` conventions (as upstream
Kokoro), read clause by clause; numbers are left to espeak once their separators are made plain."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .lean_imports import lean_imports

with lean_imports():
    from misaki.espeak import EspeakG2P
    from phonemizer.backend import EspeakBackend

_DECIMAL_WORDS = {
    "es": {",": "coma", ".": "punto"},
    "fr": {",": "virgule", ".": "point"},
    "it": {",": "virgola", ".": "punto"},
    "pt-br": {",": "vírgula", ".": "ponto"},
    "hi": {".": "दशमलव"},
}
"""espeak reads only plain integers: ``3,5`` would come out as "three five" without these."""
_THOUSANDS = {"es": ".", "fr": ".", "it": ".", "pt-br": ".", "hi": ","}
"""The grouping mark each language writes in ``1.250.000`` (Hindi: ``1,250`` and ``1,25,000``)."""


def split_by_counts(whole: str, parts: Sequence[str]) -> list[str]:
    """The clause's phonemes ``whole`` shared out word by word: word ``k`` takes as many
    space-separated phoneme words as its own reading ``parts[k]`` has. Reading a clause at once keeps
    cross-word effects (French liaison, Japanese sokuon); when the counts disagree, ``parts`` is used."""
    pieces = whole.split()
    counts = [len(p.split()) for p in parts]
    if sum(counts) != len(pieces):
        return list(parts)
    out, i = [], 0
    for n in counts:
        out.append(" ".join(pieces[i : i + n]))
        i += n
    return out


class EspeakWordG2P:
    """misaki's ``EspeakG2P`` for one language, fed one clause (no punctuation) at a time."""

    def __init__(self, lang: str, voice: str) -> None:
        self.g2p = EspeakG2P(language=voice)
        # The clause holds no punctuation (the front-end adds it), so espeak sees ``3,5`` whole.
        self.g2p.backend = EspeakBackend(
            language=voice,
            preserve_punctuation=False,
            with_stress=True,
            tie="^",
            language_switch="remove-flags",
        )
        sep = re.escape(_THOUSANDS[lang])
        grouping = r"\d{1,3}(?:,\d{2})*,\d{3}" if lang == "hi" else rf"\d{{1,3}}(?:{sep}\d{{3}})+"
        self._grouped = re.compile(rf"(?<![\d.,]){grouping}(?!\d|{sep}\d)")
        self._decimal = re.compile(r"(?<=\d)([.,])(?=\d)")
        self._decimal_words = _DECIMAL_WORDS[lang]
        self._sep = _THOUSANDS[lang]

    def _numbers(self, word: str) -> str:
        """``1.250,5`` -> ``1250 coma 5``: grouping marks dropped, the decimal mark spoken."""
        word = self._grouped.sub(lambda m: m[0].replace(self._sep, ""), word)
        return self._decimal.sub(lambda m: f" {self._decimal_words.get(m[1], '')} ", word)

    def segment(self, run: str) -> list[str]:
        return [run]

    def phonemize(self, words: Sequence[str]) -> list[str]:
        spoken = [self._numbers(w) for w in words]
        whole, _ = self.g2p(" ".join(spoken))
        return split_by_counts(whole, [self.g2p(w)[0] for w in spoken])
