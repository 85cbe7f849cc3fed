"""Normalised non-English text → phoneme pieces: words read clause by clause, punctuation mapped to
the model's symbols, spaced as misaki spaces them (``¿kˈomo estˈas?``, ``koɲɲiʨiβa, sekai.``)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from .chunking import Piece
from .multilingual import OPENING, PUNCTUATION
from .normalize import NormalizedText
from .vocab import keep_known, phonemes_to_ids
from .word_g2p import WordG2P


@dataclass(frozen=True)
class _Item:
    """A word or a punctuation mark at ``text[start:end]``; ``leans``: -1 on the word before, +1 on the
    word after (opening marks), 0 for words."""

    start: int
    end: int
    phonemes: str
    leans: int = 0


def _items(norm: NormalizedText, g2p: WordG2P, vocab: Mapping[str, int]) -> list[_Item]:
    """Words and punctuation in text order; runs of words with nothing but spaces between them are
    one clause for the G2P."""
    overrides = {(o.start, o.end): o.phonemes for o in norm.overrides}
    items: list[_Item] = []
    clause: list[tuple[int, int, str]] = []

    def flush() -> None:
        if clause:
            readings = g2p.phonemize([w for _, _, w in clause])
            items.extend(_Item(s, e, keep_known(ps, vocab)) for (s, e, _), ps in zip(clause, readings))
            clause.clear()

    pos = 0
    for w in [*norm.words, None]:
        gap_end = w.start if w else len(norm.text)
        for i in range(pos, gap_end):
            c = norm.text[i]
            if c in PUNCTUATION:
                flush()
                items.append(_Item(i, i + 1, PUNCTUATION[c], 1 if c in OPENING else -1))
        if w is None:
            break
        fixed = overrides.get((w.start, w.end))
        if fixed is None:
            clause.append((w.start, w.end, w.spoken))
        else:
            flush()
            phonemes_to_ids(fixed, vocab)  # raises naming any unknown symbol
            items.append(_Item(w.start, w.end, fixed))
        pos = w.end
    flush()
    return [_opening_quote(it, norm.text) for it in items]


def _opening_quote(item: _Item, text: str) -> _Item:
    """A straight quote opens when it follows a space or starts the text."""
    if item.phonemes == '"' and (item.start == 0 or text[item.start - 1].isspace()):
        return _Item(item.start, item.end, item.phonemes, 1)
    return item


def clause_pieces(norm: NormalizedText, g2p: WordG2P, vocab: Mapping[str, int]) -> list[Piece]:
    """Pieces covering ``norm.text`` exactly; a space separates phonemes except next to punctuation
    that leans on its neighbour."""
    items = _items(norm, g2p, vocab)
    pieces = []
    spoken = [k for k, it in enumerate(items) if it.phonemes]
    following = dict(itertools.pairwise(spoken))
    for k, it in enumerate(items):
        start = 0 if k == 0 else it.start
        end = items[k + 1].start if k + 1 < len(items) else len(norm.text)
        nxt = following.get(k)
        space = nxt is not None and it.leans != 1 and items[nxt].leans != -1
        pieces.append(Piece(start, end, it.phonemes + (" " if space else "")))
    return pieces or [Piece(0, len(norm.text), "")]
