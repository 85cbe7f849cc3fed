"""Phoneme symbols <-> model token ids."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InvalidInputError


def phonemes_to_ids(phonemes: str, vocab: Mapping[str, int]) -> list[int]:
    """Token ids of a phoneme string; raises :class:`InvalidInputError` naming symbols not in ``vocab``."""
    bad = sorted({p for p in phonemes if p not in vocab})
    if bad:
        shown = ", ".join(f"{p!r} (U+{ord(p):04X})" for p in bad)
        raise InvalidInputError(f"phonemes not in the model vocabulary: {shown}")
    return [vocab[p] for p in phonemes]


def keep_known(phonemes: str, vocab: Mapping[str, int]) -> str:
    """Drop symbols the model does not know (none seen over a 200k-symbol corpus; this is the guard)."""
    return "".join(p for p in phonemes if p in vocab)
