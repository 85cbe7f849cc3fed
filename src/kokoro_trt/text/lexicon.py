"""User pronunciation lexicons: word → phonemes, per call, never merged into misaki's own lexicon."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from ..config import ModelConfig
from ..errors import InvalidInputError


def check_lexicon(lexicon: Mapping[str, str], vocab: Mapping[str, int] | None = None) -> dict[str, str]:
    """A validated copy of ``lexicon``: non-empty string words and phonemes, every symbol in ``vocab``
    (``None``: the symbols are not checked); raises :class:`InvalidInputError` naming the first bad entry."""
    if not isinstance(lexicon, Mapping):
        raise InvalidInputError(f"a lexicon maps words to phonemes, got {type(lexicon).__name__}")
    checked = {}
    for word, phonemes in lexicon.items():
        if not isinstance(word, str) or not word.strip() or not isinstance(phonemes, str) or not phonemes.strip():
            raise InvalidInputError(f"lexicon entry {word!r}: {phonemes!r} must map a word to a phoneme string")
        unknown = sorted({p for p in phonemes if p not in vocab}) if vocab is not None else []
        if unknown:
            shown = ", ".join(f"{p!r} (U+{ord(p):04X})" for p in unknown)
            raise InvalidInputError(f"lexicon entry {word!r}: phonemes not in the model vocabulary: {shown}")
        checked[word] = phonemes
    return checked


def load_lexicon(path: str | Path, vocab: Mapping[str, int] | None = None) -> dict[str, str]:
    """Read a YAML (``.yaml``/``.yml``) or JSON lexicon of ``word: phonemes`` and validate it against
    ``vocab`` (default: the Kokoro v1.0 vocabulary). Words match as written, then lower-cased."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read lexicon {path}: {exc}") from exc
    return check_lexicon(data if data is not None else {}, vocab or ModelConfig.default().vocab)
