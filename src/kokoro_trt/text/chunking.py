"""Sentence- and clause-aware splitting of phonemized text into model-sized chunks."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from .normalize import WordSpan
from .punctuation import CLAUSE_END, CLOSERS, SENTENCE_END
from .vocab import phonemes_to_ids


@dataclass(frozen=True)
class Piece:
    """``text[start:end]`` (trailing whitespace included) and its phonemes (trailing space included)."""

    start: int
    end: int
    phonemes: str


@dataclass(frozen=True)
class Word:
    """An original word, its spoken form and its tokens in the chunk's ``token_ids`` (end exclusive)."""

    text: str
    spoken: str
    start_token: int
    end_token: int


@dataclass(frozen=True)
class Chunk:
    """One model call: normalised text (with trailing whitespace), phonemes, token ids and words.

    ``continues``: this chunk carries on the one before, split off only to stream the first chunk in
    growing pieces; :func:`join_chunks` gives back the chunk the model should read."""

    text: str
    phonemes: str
    token_ids: list[int]
    words: list[Word]
    continues: bool = False


def join_chunks(head: Chunk, rest: Chunk, vocab: Mapping[str, int]) -> Chunk:
    """``head`` and the ``rest`` that continues it as one chunk, a space between them."""
    shift = len(head.phonemes) + 1
    return Chunk(
        text=head.text + rest.text,
        phonemes=f"{head.phonemes} {rest.phonemes}",
        token_ids=[*head.token_ids, vocab[" "], *rest.token_ids],
        words=[
            *head.words,
            *(Word(w.text, w.spoken, w.start_token + shift, w.end_token + shift) for w in rest.words),
        ],
    )


PAUSE_PHONEMES = {3: 8, 2: 2}
"""The pause after a sentence end (break priority 3) and a clause end (2), in phonemes' worth of audio:
Kokoro holds the phoneme before the break ~0.5 s and ~0.1 s longer, and speaks ~2.4 frames (0.06 s) a
phoneme. Streamed pieces are sized by the audio they carry, pause included."""


MIN_HEAD_PHONEMES = 5
"""A streamed head runs on to a break past this many phonemes: "Good" alone (0.23 s) played out before the
"morning," after it was rendered, and the listener heard a gap. With the faster decoder and stream since,
"morning," arrives ~45 ms before "Good" has played on two quiet cores: still too close for a loaded machine."""


_CLOSERS_LOOKBACK = 8
"""How far before a piece of closing quotes and brackets the end they close is looked for (``dawn.")``)."""


def _break_priority(text: str, piece: Piece) -> int:
    """How good a place to cut after ``piece`` of ``text`` is: sentence 3, clause 2, space 1, mid-word 0.

    Closing quotes and brackets stay with the sentence or clause they close: a cut right before them is
    none, and a cut after them ranks as that end (else ``, "We leave at dawn."`` was cut before its closing
    quote, and the next chunk began with it)."""
    piece_text = text[piece.start : piece.end]
    stripped = piece_text.rstrip()
    if stripped == piece_text and text[piece.end : piece.end + 1] and text[piece.end] in CLOSERS:
        return 0
    core = stripped.rstrip(CLOSERS)
    if stripped and not core:  # only closers: the end they close comes before them
        core = text[max(piece.start - _CLOSERS_LOOKBACK, 0) : piece.start].rstrip(CLOSERS)
    if core and core[-1] in SENTENCE_END:
        return 3
    if core and core[-1] in CLAUSE_END:
        return 2
    return 1 if len(stripped) < len(piece_text) else 0


def _inside_word(position: int, words: Sequence[WordSpan], starts: Sequence[int]) -> bool:
    """Whether ``position`` falls inside one word's spoken form (``three thirty`` of ``3:30``)."""
    k = bisect.bisect_left(starts, position) - 1
    return k >= 0 and position < words[k].end


def _split_long(piece: Piece, max_tokens: int) -> list[Piece]:
    """A piece longer than a chunk (one enormous word) cut into chunk-sized parts, text in proportion."""
    n = -(-len(piece.phonemes.rstrip()) // max_tokens)
    if n <= 1:
        return [piece]
    length = piece.end - piece.start
    bounds = [piece.start + round(k * length / n) for k in range(n + 1)]
    return [
        Piece(
            bounds[k],
            bounds[k + 1],
            piece.phonemes[k * max_tokens : (k + 1) * max_tokens if k < n - 1 else None],
        )
        for k in range(n)
    ]


def _group(
    text: str, pieces: Sequence[Piece], words: Sequence[WordSpan], max_tokens: int, pauses: bool = False
) -> Iterator[list[Piece]]:
    """Greedy: fill a chunk, then cut at the best-ranked (then latest) break that still fits; never
    inside a word's spoken form when another break fits. With ``pauses``, the breaks' pauses count
    towards ``max_tokens`` too (see :data:`PAUSE_PHONEMES`). Lazy: a streamed piece needs only the first."""
    starts = [w.start for w in words]
    i = 0
    while i < len(pieces):
        best_priority, best_end = -1, i + 1
        joined, paused = "", 0
        for j in range(i, len(pieces)):
            joined += pieces[j].phonemes
            if pauses:
                paused += _pause(text, pieces[j])
            if len(joined.strip()) + paused > max_tokens:
                break
            if j + 1 == len(pieces):
                priority = 4
            elif _inside_word(pieces[j].end, words, starts):
                priority = 0
            else:
                priority = _break_priority(text, pieces[j])
            if priority >= best_priority:
                best_priority, best_end = priority, j + 1
        yield list(pieces[i:best_end])
        i = best_end


def _merge_silent(groups: list[list[Piece]]) -> list[list[Piece]]:
    """Fold chunks without phonemes (stray punctuation) into a neighbour so none is empty."""
    merged: list[list[Piece]] = []
    for group in groups:
        silent = not _phoneme_count(group)
        if merged and (silent or not _phoneme_count(merged[-1])):
            merged[-1] = merged[-1] + group
        else:
            merged.append(group)
    return merged


def _words(group: Sequence[Piece], words: Sequence[WordSpan], lead: int, n_tokens: int) -> list[Word]:
    """Token ranges of the words overlapping this chunk's pieces."""
    offsets = [0]
    for p in group:
        offsets.append(offsets[-1] + len(p.phonemes))
    starts = [p.start for p in group]
    lo, hi = group[0].start, group[-1].end

    def clip(token: int) -> int:
        return min(max(token - lead, 0), n_tokens)

    result = []
    for w in words:
        if w.end <= lo or w.start >= hi:
            continue
        first = max(bisect.bisect_right(starts, w.start) - 1, 0)
        last = bisect.bisect_left(starts, w.end) - 1
        end = offsets[last] + len(group[last].phonemes.rstrip(" "))
        result.append(Word(w.original, w.spoken, clip(offsets[first]), max(clip(end), clip(offsets[first]))))
    return result


def _phoneme_count(group: Sequence[Piece]) -> int:
    return len("".join(p.phonemes for p in group).strip())


def _pause(text: str, piece: Piece) -> int:
    """The pause after ``piece``, in phonemes' worth of audio."""
    return PAUSE_PHONEMES.get(_break_priority(text, piece), 0)


def _audio_length(text: str, group: Sequence[Piece]) -> int:
    """``group``'s audio in phonemes' worth: its phonemes and its pauses."""
    return _phoneme_count(group) + sum(_pause(text, p) for p in group)


def _growing_pieces(
    text: str,
    group: list[Piece],
    words: Sequence[WordSpan],
    head_tokens: int,
    limit: int | None,
    before: int = 0,
) -> list[list[Piece]]:
    """``group`` cut for streaming after ``before`` phonemes' worth of audio: with none, a head of at
    most ``head_tokens`` phonemes first (at least :data:`MIN_HEAD_PHONEMES`, to a break); then pieces
    each with at most three quarters of the audio of all before it (but at least half ``head_tokens``;
    audio estimated as phonemes and pauses, :data:`PAUSE_PHONEMES`), each cut at the best break; after
    ``limit`` cuts (``None``: no limit), the rest in one piece.

    A piece then takes no longer to render than the audio before it takes to play wherever the model
    runs at least 1.75 times as fast as real time (two CPU cores: 2-2.5 times), so the stream does not
    wait after its head, and the audio ready grows by 1.75 each piece: a chunk splits into a few
    pieces, not dozens, and once the audio before is long enough, not at all."""
    parts: list[list[Piece]] = []
    spoken = before
    starts = [w.start for w in words]
    while limit is None or len(parts) < limit:
        head = not spoken  # measured in phonemes (``first_chunk_tokens``); the pieces after it by their audio
        budget = head_tokens if head else max(head_tokens // 2, 3 * spoken // 4)
        if (_phoneme_count(group) if head else _audio_length(text, group)) <= budget:
            break
        part = next(_group(text, group, words, budget, pauses=not head))
        while len(part) < len(group) and (
            not _break_priority(text, part[-1])  # a word keeps its punctuation ("everyone.")
            or _inside_word(part[-1].end, words, starts)  # and a written word ("40-60°C") stays whole
            or (head and _phoneme_count(part) < MIN_HEAD_PHONEMES)
        ):
            part = group[: len(part) + 1]  # in one piece, if a longer one
        parts.append(part)
        group = group[len(part) :]
        spoken += _audio_length(text, part)
    return _merge_silent([*parts, group])


def make_chunks(
    text: str,
    pieces: Sequence[Piece],
    words: Sequence[WordSpan],
    vocab: Mapping[str, int],
    max_tokens: int,
    head_tokens: int | None = None,
    growing: bool = False,
) -> list[Chunk]:
    """Split pieces covering ``text`` into chunks of at most ``max_tokens`` phonemes each; with
    ``head_tokens``, the first chunk's head (up to that many phonemes, cut at the best break) becomes a
    chunk of its own, then the rest of that chunk another or, ``growing``, every chunk is cut into
    growing pieces where it needs to be (see :func:`_growing_pieces`). Pieces after the first of a chunk
    are marked ``continues``."""
    pieces = [part for p in pieces for part in _split_long(p, max_tokens)]
    groups = _merge_silent(list(_group(text, pieces, words, max_tokens)))
    cut: list[tuple[list[Piece], bool]] = [(group, False) for group in groups]
    if head_tokens is not None:
        cut, spoken, limit = [], 0, None if growing else 1
        for k, group in enumerate(groups):
            parts = _growing_pieces(text, group, words, head_tokens, limit, spoken) if k == 0 or growing else [group]
            cut += [(part, j > 0) for j, part in enumerate(parts)]
            spoken += _audio_length(text, group)
    chunks = []
    for group, continues in cut:
        raw = "".join(p.phonemes for p in group)
        phonemes = raw.strip()
        lead = len(raw) - len(raw.lstrip())
        chunks.append(
            Chunk(
                text=text[group[0].start : group[-1].end],
                phonemes=phonemes,
                token_ids=phonemes_to_ids(phonemes, vocab),
                words=_words(group, words, lead, len(phonemes)),
                continues=continues,
            )
        )
    return chunks
