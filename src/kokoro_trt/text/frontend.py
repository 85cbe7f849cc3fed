"""TextFrontend: text -> normalised text -> phonemes -> model-sized chunks with word spans."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..config import MAX_PHONEMES
from ..errors import InvalidInputError
from .chunking import Chunk, Piece, make_chunks
from .clauses import clause_pieces
from .languages import ENGLISH, LANGUAGES, canonical_language
from .multilingual import normalize_multilingual
from .normalize import NormalizedText, WordSpan, normalize, require_speakable, require_text
from .options import NormalizationOptions
from .vocab import keep_known, phonemes_to_ids
from .word_g2p import WordG2P, load_word_g2p

LANGS = tuple(LANGUAGES)
"""Supported languages (canonical codes); :func:`canonical_language` lists the other accepted names."""
MAX_TOKENS = MAX_PHONEMES
CHUNK_PHONEMES = 300
"""Phonemes per chunk unless asked otherwise (~18 s of speech, cut at sentences). Chunks of up to
``MAX_TOKENS`` scored the same on average (DNSMOS and Whisper's WER, nine passages and voices:
docs/performance.md), while the CPU decoder holds ~19 MB per second of audio of its longest chunk:
~350 MB at this cap, ~600 MB at ``MAX_TOKENS``."""
_PHONEME_PUNCT = ';:,.!?—…"“”()'
_RAW_PIECE = re.compile(rf"(?:[^\s{re.escape(_PHONEME_PUNCT)}]+|[{re.escape(_PHONEME_PUNCT)}]+) ?")


class _PieceBuilder:
    """Collects contiguous pieces, never letting two spaces meet in the phoneme string."""

    def __init__(self) -> None:
        self.pieces: list[Piece] = []

    def _ends_open(self) -> bool:
        return bool(self.pieces) and not self.pieces[-1].phonemes.endswith(" ") and self.pieces[-1].phonemes != ""

    def add(self, start: int, end: int, core: str, space_after: bool) -> None:
        if not core and not self._ends_open():
            space_after = False
        self.pieces.append(Piece(start, end, core + (" " if space_after else "")))

    def extend(self, end: int) -> None:
        """Whitespace up to ``end`` joins the last piece as one space."""
        if not self.pieces:
            self.pieces.append(Piece(0, end, ""))
            return
        last = self.pieces[-1]
        space = " " if self._ends_open() else ""
        self.pieces[-1] = Piece(last.start, end, last.phonemes + space)


class TextFrontend:
    """Text front-end for Kokoro: normalise, phonemize (misaki + espeak-ng, per language) and chunk.

    ``lang`` is any name :func:`canonical_language` accepts (``es``, ``e``, ``fr-FR``...); ``.lang``
    holds the canonical code. English gets the full normaliser; the other languages keep their
    script, punctuation and digits for their own G2P (see :mod:`.word_g2p`)."""

    def __init__(self, vocab: Mapping[str, int], lang: str = "en-us") -> None:
        self.vocab = vocab
        self.lang = canonical_language(lang)
        self.british = self.lang == "en-gb"
        self.english = self.lang in ENGLISH

    def _word_g2p(self) -> WordG2P:
        return load_word_g2p(self.lang)

    def load(self) -> TextFrontend:
        """Load the G2P now (seconds, cached per process) instead of on the first call. Never downloads.

        The English G2P's packages (spaCy, misaki, and torch through spaCy's thinc where it is installed)
        take seconds to import, so they are imported here, not with the package: ``load_kokoro`` runs
        this beside the inference sessions' build."""
        if self.english:
            from .g2p import load_g2p

            load_g2p(self.british)
        else:
            self._word_g2p()
        return self

    def normalize(
        self,
        text: str,
        lexicon: Mapping[str, str] | None = None,
        normalization: NormalizationOptions | None = None,
    ) -> NormalizedText:
        """Spoken form of ``text`` and the mapping from original words to spoken spans; words in
        ``lexicon`` (word → phonemes) take its phonemes; ``normalization`` switches parts of the
        English normaliser off (the other languages only clean up, their G2P reads numbers)."""
        if self.english:
            return normalize(text, self.british, normalization, lexicon)
        require_text(text)
        return require_speakable(text, normalize_multilingual(text, self._word_g2p().segment, lexicon))

    def check(
        self,
        text: str,
        lexicon: Mapping[str, str] | None = None,
        normalization: NormalizationOptions | None = None,
    ) -> None:
        """Raise what :meth:`chunks` would for ``text``'s normalisation and inline phonemes, without the G2P."""
        for override in self.normalize(text, lexicon, normalization).overrides:
            phonemes_to_ids(override.phonemes, self.vocab)

    def _pieces(self, norm: NormalizedText) -> list[Piece]:
        """Phonemize normalised text into pieces covering it exactly; overrides keep their phonemes."""
        if not self.english:
            return clause_pieces(norm, self._word_g2p(), self.vocab)
        text = norm.text
        out = _PieceBuilder()
        pos = 0
        for o in [*norm.overrides, None]:
            stop = o.start if o else len(text)
            self._add_g2p(out, text, pos, stop)
            if o:
                phonemes_to_ids(o.phonemes, self.vocab)  # raises naming any unknown symbol
                out.add(o.start, o.end, o.phonemes, False)
                pos = o.end
        return out.pieces

    def _add_g2p(self, out: _PieceBuilder, text: str, start: int, stop: int) -> None:
        segment = text[start:stop]
        body = segment.strip()
        if not body:
            if stop > start:
                out.extend(stop)
            return
        lead = start + len(segment) - len(segment.lstrip())
        if lead > start:
            out.extend(lead)
        tail = lead + len(body)
        from .g2p import g2p_tokens  # imported by load() (see there)

        tokens = g2p_tokens(body, self.british)
        starts, cursor = [], lead
        for tk in tokens:
            found = text.find(tk.text, cursor, tail)
            cursor = found if found >= 0 else cursor
            starts.append(cursor)
            cursor += len(tk.text) if found >= 0 else 0
        starts[0] = lead
        for k, tk in enumerate(tokens):
            end = starts[k + 1] if k + 1 < len(tokens) else tail
            out.add(starts[k], end, keep_known(tk.phonemes, self.vocab), tk.space_after)
        if stop > tail:
            out.extend(stop)

    def phonemize(
        self,
        text: str,
        lexicon: Mapping[str, str] | None = None,
        normalization: NormalizationOptions | None = None,
    ) -> str:
        """The phoneme string of the whole text."""
        return "".join(p.phonemes for p in self._pieces(self.normalize(text, lexicon, normalization))).strip()

    def chunks(
        self,
        text: str,
        max_tokens: int = CHUNK_PHONEMES,
        *,
        head_tokens: int | None = None,
        growing: bool = False,
        lexicon: Mapping[str, str] | None = None,
        normalization: NormalizationOptions | None = None,
    ) -> list[Chunk]:
        """Chunks of at most ``max_tokens`` phonemes; their texts concatenate to the normalised text.
        With ``head_tokens``, the first chunk's head is split off as a chunk of its own (for streaming),
        the rest of that chunk following in one piece or, ``growing``, every chunk in growing pieces
        where the audio before it is short."""
        _check_max(max_tokens)
        norm = self.normalize(text, lexicon, normalization)
        chunks = make_chunks(norm.text, self._pieces(norm), norm.words, self.vocab, max_tokens, head_tokens, growing)
        if not any(c.phonemes for c in chunks):
            raise InvalidInputError(f"text has nothing speakable: {text[:80]!r}")
        return chunks

    def chunks_from_phonemes(
        self,
        phonemes: str,
        max_tokens: int = CHUNK_PHONEMES,
        *,
        head_tokens: int | None = None,
        growing: bool = False,
    ) -> list[Chunk]:
        """Raw-phoneme entry point: validate against the vocabulary, then chunk at spaces and punctuation."""
        _check_max(max_tokens)
        phonemes = " ".join(phonemes.split())
        if not phonemes:
            raise InvalidInputError("phonemes are empty")
        phonemes_to_ids(phonemes, self.vocab)
        pieces = [Piece(m.start(), m.end(), m.group(0)) for m in _RAW_PIECE.finditer(phonemes)]
        words = [
            WordSpan(p.phonemes.strip(), p.phonemes.strip(), p.start, p.start + len(p.phonemes.strip()))
            for p in pieces
            if p.phonemes[0] not in _PHONEME_PUNCT
        ]
        return make_chunks(phonemes, pieces, words, self.vocab, max_tokens, head_tokens, growing)


def _check_max(max_tokens: int) -> None:
    if not 1 <= max_tokens <= MAX_TOKENS:
        raise InvalidInputError(f"max_tokens must be in 1..{MAX_TOKENS}, got {max_tokens}")
