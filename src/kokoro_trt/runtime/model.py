"""``KokoroModel``: text in, 24 kHz audio out, written straight into the caller's buffer.

Stages, each public: :meth:`KokoroModel.phonemize` → :meth:`~KokoroModel.ids` →
:meth:`~KokoroModel.durations` → audio (:meth:`~KokoroModel.synthesize`, :meth:`~KokoroModel.stream`,
and their asyncio forms :meth:`~KokoroModel.asynthesize`, :meth:`~KokoroModel.astream`).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import logging
import threading
import unicodedata
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from ..config import MAX_PHONEMES, SAMPLE_RATE, ModelConfig
from ..errors import InvalidInputError
from ..options import DEFAULT_MAX_SECONDS, SynthesisOptions
from ..text import (
    Chunk,
    NormalizationOptions,
    Pause,
    TextFrontend,
    WordTimestamp,
    canonical_language,
    check_lexicon,
    join_chunks,
    split_pauses,
    split_sentences,
    voice_language,
    word_timestamps,
)
from ..text.punctuation import CLAUSE_END, CLOSERS, SENTENCE_END
from ..voices import (
    LIMITS,
    Character,
    Prosody,
    VoiceStore,
    apply_energy,
    apply_pitch,
    load_characters,
    load_emotions,
    resolve_prosody,
)
from ..voices.suggest import not_found
from .backends.base import Backend, TextFeatures
from .buffers import OutputTarget, wrap_output
from .fair_lock import FairLock
from .noise import DEFAULT_SEED, NoiseBank
from .windows import decode_windows, frame_energy, window_frames

logger = logging.getLogger(__name__)

ReturnTensors = Literal["np", "pt"]

_JOIN_CONTEXT_FRAMES = 2
"""Frames (50 ms) decoded past each side of a join between streamed pieces of one chunk, then dropped.
Decoded alone, a piece's edges see zeros where speech goes on, and a short word that opens a piece ("a",
"the") was swallowed: Whisper lost 4 of one 27-word passage's words, none with this context, which
lowered the stream's WER over 5 passages x 2 seeds from 5.0% to 1.9%. Six texts x 4 voices streamed with
0, 2 and 4 frames: WER 8.0%, 4.0% and 4.1%; 2 frames decode faster (docs/performance.md)."""
_CROSSFADE_SAMPLES = 240
"""Samples (10 ms) over which a streamed piece fades in from the audio the piece before it decoded past
their join (its context frames): decoded apart, the two edges met with a step, up to 19 times the
sample-to-sample change around it, and a step in a voiced sound is a click (docs/performance.md)."""
_LEAD_FRAMES = 2
"""Leading-silence frames kept on every chunk (50 ms). The model opens every chunk with 0.3-0.45 s of
silence (its start token): rendered in full it would delay the first audio by that much for nothing,
stretch the pause the previous chunk already ends with, and make a ``[pause:…]`` longer than asked."""
_LOOKAHEAD_TOKENS = 24
"""How far past a streamed head its own duration pass reads (phonemes, cut at a word end). PL-BERT's cost
is the first audio's; 40 read the script's head no closer to the whole chunk's durations (3 frames off
against 2) and took 0.03 s longer (docs/performance.md)."""
_FIRST_BLOCK_CHARS = 1000
"""A stream of a longer English text with no ``max_seconds`` (the server's default) reads the sentences of
about this many characters first (~1 minute of audio: Kokoro reads ~16 a second) and the rest once their
audio is rendered, so its first audio does not wait for the whole text's G2P (~0.1 ms a word: 2,240 words
started 1.5x later; 3,419 characters, read whole, 1.1-1.2x later than with 1,000 first). A minute of audio
covers reading the rest and rendering its first chunk whole; both parts are normalised first, which costs
what the smaller G2P saves below twice this length (docs/performance.md)."""
_MAX_CHARS_PER_SECOND = 80
"""More text than a second of audio at speed 1 can speak: Kokoro reads ~16 characters a second (a 45 s
script is ~750), and the margin covers text the normaliser drops (markup, emoji, spaces)."""
_PUNCTUATION = "".join(sorted(SENTENCE_END | CLAUSE_END)) + CLOSERS
"""What a streamed head's closing punctuation is made of (see :func:`_cut`)."""
T = TypeVar("T")

_CANCELLED: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("cancelled", default=None)
"""Set in the worker thread of an asyncio call; once the event is set, synthesis stops at the next chunk."""


class _Cancelled(Exception):
    """Raised in a worker thread whose asyncio caller was cancelled."""


@dataclass(frozen=True)
class AudioChunk:
    """One streamed piece of audio and the words it speaks (times from the start of the stream).

    ``text`` is the spoken (normalised) text and ``phonemes`` what the model read; both are empty for
    a ``[pause:…]`` silence."""

    audio: Any
    start_sample: int
    text: str
    words: list[WordTimestamp]
    phonemes: str = ""


@dataclass(frozen=True)
class Speech:
    """A finished synthesis: audio, word timings and what happened on the way."""

    audio: Any
    sample_rate: int
    words: list[WordTimestamp]
    truncated: bool
    backend: str
    phonemes: str = ""
    """What the model read, chunk by chunk (joined with spaces)."""

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass
class _Planned:
    """A chunk whose durations are known, so its audio length is too."""

    chunk: Chunk
    style: np.ndarray
    features: TextFeatures
    cut: bool = False
    """Whether this is only a prefix of its chunk (cut to fit ``max_seconds``)."""
    first_frame: int = 0
    stop_frame: int | None = None
    """The frames of ``features`` this part renders (a streamed head, or the rest after it)."""
    first_token: int = 0
    """Where ``chunk``'s tokens start among the tokens ``features`` were computed for."""
    _prosody: list[tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=list, repr=False, compare=False)
    """The pass's F0 and energy once predicted, shared by the parts cut from it (``dataclasses.replace``)."""

    @property
    def frames(self) -> int:
        stop = int(self.features.durations.sum()) if self.stop_frame is None else self.stop_frame
        return stop - self.first_frame

    def frame_tokens(self) -> np.ndarray:
        """Each frame's model token, over all the frames of ``features`` (not only those rendered)."""
        durations = self.features.durations
        return np.repeat(np.arange(durations.shape[0]), durations)

    def pass_prosody(self, predict: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """F0 and energy over all the pass's frames: ``predict()`` for its first part, then reused."""
        if not self._prosody:
            self._prosody.append(predict())
        return self._prosody[0]


@dataclass(frozen=True)
class _Silence:
    """A ``[pause:…]``: this many samples of silence."""

    samples: int


_Item = Chunk | Pause
_PlannedItem = _Planned | _Silence


@dataclass(frozen=True)
class _Request:
    voice: str
    prosody: Prosody
    seed: int
    max_samples: int | None
    script_words: int
    lexicon: Mapping[str, str] | None
    normalization: NormalizationOptions | None
    lang: str


class KokoroModel:
    """One loaded model: a backend running the stage graphs, the text front-end and the voices."""

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        backend: Backend,
        *,
        config: ModelConfig,
        frontend: TextFrontend,
        voices: VoiceStore,
        characters: dict[str, Character] | None = None,
        emotions: dict | None = None,
        decode_window_seconds: float | None = None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.frontend = frontend
        self._frontends = {frontend.lang: frontend}
        self.voices = voices
        self.characters = characters if characters is not None else load_characters()
        self.emotions = emotions if emotions is not None else load_emotions()
        self.samples_per_frame = config.samples_per_frame
        self.decode_window_frames = window_frames(decode_window_seconds, config.samples_per_frame)
        self._noise = NoiseBank(min_length=int(DEFAULT_MAX_SECONDS * SAMPLE_RATE) + config.samples_per_frame)
        self._lock = FairLock()  # requests take turns with the model chunk by chunk
        self._scratch = np.empty(0, dtype=np.float32)
        """Where a streamed piece is decoded with its join context (_render; under the lock), kept and
        grown to the longest such piece so a stream into a caller's buffer allocates nothing per piece."""
        self._token_ids = frozenset(config.vocab.values())

    @property
    def backend_name(self) -> str:
        return self.backend.name

    # -- public stages -------------------------------------------------------------------------

    def phonemize(
        self,
        text: str,
        lexicon: Mapping[str, str] | None = None,
        normalization: NormalizationOptions | None = None,
        lang: str | None = None,
    ) -> str:
        """Text → phoneme string (normalised, offline G2P); the options as in :meth:`speak`."""
        options = SynthesisOptions(lexicon=lexicon, normalization=normalization, lang=lang)
        lexicon = None if options.lexicon is None else check_lexicon(options.lexicon, self.frontend.vocab)
        return self._frontend(options.lang).phonemize(text, lexicon, options.normalization)

    def _frontend(self, lang: str | None) -> TextFrontend:
        """The front-end for ``lang`` (any name :func:`~kokoro_trt.text.canonical_language` accepts;
        ``None``: the model's own), loaded on first use."""
        lang = canonical_language(lang) if lang is not None else self.frontend.lang
        if lang not in self._frontends:
            self._frontends[lang] = TextFrontend(self.frontend.vocab, lang=lang).load()
        return self._frontends[lang]

    def ids(self, phonemes: str) -> list[int]:
        """Phonemes → token ids, without the boundary tokens."""
        return [i for chunk in self.frontend.chunks_from_phonemes(phonemes) for i in chunk.token_ids]

    def durations(self, ids: list[int], voice_id: str = "af_heart", speed: float = 1.0) -> np.ndarray:
        """Token ids (≤ 510) → frames per model token, boundary tokens included (``len(ids) + 2``)."""
        options = SynthesisOptions(voice=voice_id, speed=speed)
        style = self.voices.style(options.voice, len(self._check_ids(ids)))
        with self._lock:
            return self.backend.durations(_model_ids(ids), style, options.speed).durations.copy()

    def _check_ids(self, ids: object) -> list[int]:
        """``ids`` if it is a list of 1..510 of the vocabulary's token ids, else :class:`InvalidInputError`."""
        if not isinstance(ids, (list, tuple)) or not 1 <= len(ids) <= self.config.max_phonemes:
            count = len(ids) if isinstance(ids, (list, tuple)) else type(ids).__name__
            raise InvalidInputError(f"ids must be a list of 1..{self.config.max_phonemes} token ids, got {count}")
        known = self._token_ids
        bad = next(
            (i for i in ids if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i not in known), None
        )
        if bad is not None:
            raise InvalidInputError(f"{bad!r} is not a token id of this model's vocabulary")
        return list(ids)

    # -- synthesis ---------------------------------------------------------------------------

    def synthesize(
        self,
        text: str,
        voice_id: str | None = None,
        speed: float | None = None,
        emotion: str | None = None,
        output: Any = None,
        seed: int | None = None,
        **options: Any,
    ) -> Any:
        """24 kHz mono float32 audio in [-1, 1] for ``text``; see :meth:`speak` for the options.

        With ``output`` (a numpy array, torch tensor, or any array-interface / CUDA-array-interface /
        DLPack object of float32 samples) the audio is written into it and a view of the written part
        is returned. Without it, a new numpy array is returned (a torch tensor if
        ``return_tensors="pt"``).
        """
        return self.speak(text, voice_id, speed, emotion, output, seed, **options).audio

    def speak(
        self,
        text: str,
        voice_id: str | None = None,
        speed: float | None = None,
        emotion: str | None = None,
        output: Any = None,
        seed: int | None = None,
        *,
        options: SynthesisOptions | None = None,
        return_tensors: ReturnTensors = "np",
        phonemes: bool = False,
        **overrides: Any,
    ) -> Speech:
        """Synthesize ``text`` (or a phoneme string when ``phonemes=True``) with word timestamps.

        How to speak comes from ``options`` (:class:`~kokoro_trt.SynthesisOptions`; default: its
        defaults) with ``voice_id``, ``speed``, ``emotion`` and ``seed`` replacing its fields when not
        ``None``, and any of its other fields given as keywords (``pitch_shift=2``, ``max_seconds=None``,
        ``lang="en-gb"``...) replacing them too.

        ``voice_id`` is a stock voice, a blend (``af_sarah(0.3)+af_jessica(0.7)``) or a character
        (``rick_c137``). Prosody composes in this order: the character's defaults, then the emotion
        (speed, energy and pitch range multiply, pitch shift adds), then ``pitch_shift``,
        ``pitch_range`` and ``energy`` when given (they replace), and ``speed`` multiplies last.
        Audio beyond ``max_seconds`` is cut at a sentence boundary (``None``: no limit).
        ``[pause:1.5s]`` or ``[pause:500ms]`` in the text inserts that much silence (at most 10 s).
        ``lexicon`` (word → phonemes, matched as written, then lower-cased) applies to this call only;
        inline ``[word](/phonemes/)`` wins over it. ``normalization`` switches parts of the normaliser
        off for this call (:class:`~kokoro_trt.text.NormalizationOptions`; ``None``: all of it runs).
        ``lang`` picks the language of this call's front-end (``"es"``, ``"ja"``, ``"en-gb"``, Kokoro's
        letters ``"e"``, ``"j"``, ``"b"``...; each is loaded on first use). ``None``: the voice's own
        language, from its first letter as upstream (``ef_dora`` reads Spanish, ``bf_emma`` British
        English; a blend follows its first voice), else the model's (``load_kokoro(lang=)``).
        """
        target = self._output_target(output)
        settings = _merge(options, voice_id, speed, emotion, seed, overrides)
        request = self._request(text, settings)
        items, cut = self._items(text, phonemes, request)
        cancelled = _CANCELLED.get()
        with self._lock:
            _stop_if_set(cancelled)  # its caller left while it waited for the model
            planned = []
            for plan in self._plan(items, request):
                _stop_if_set(cancelled)
                planned.append(plan)
        if not any(isinstance(p, _Planned) for p in planned):
            raise InvalidInputError(f"the first sentence alone is longer than max_seconds={settings.max_seconds:g}")
        truncated = cut or len(planned) < len(items) or getattr(planned[-1], "cut", False)
        total = sum(self._samples(p) for p in planned)
        if target is None:
            target = wrap_output(_allocate(total, return_tensors))
        target.require_capacity(total)
        words: list[WordTimestamp] = []
        offset = 0
        for plan in planned:
            with self._lock:  # chunk by chunk: other requests' chunks take their turns in between
                _stop_if_set(cancelled)
                self._write(plan, request, target, offset)
            words += self._words(plan, offset)
            offset += self._samples(plan)
        spoken = " ".join(p.chunk.phonemes for p in planned if isinstance(p, _Planned))
        return Speech(target.written(total), SAMPLE_RATE, words, truncated, self.backend.name, spoken)

    def stream(
        self,
        text: str,
        voice_id: str | None = None,
        speed: float | None = None,
        emotion: str | None = None,
        output: Any = None,
        seed: int | None = None,
        *,
        options: SynthesisOptions | None = None,
        phonemes: bool = False,
        first_chunk_tokens: int | None = 10,
        cancel: threading.Event | None = None,
        **overrides: Any,
    ) -> Generator[AudioChunk, None, None]:
        """Yield audio chunk by chunk, each as soon as it is ready; the options are :meth:`speak`'s.

        Chunks are :meth:`speak`'s (whole sentences, up to ``CHUNK_PHONEMES``) except that the head of
        the first one, at most ``first_chunk_tokens`` phonemes cut at a clause (else a word; at least
        ``MIN_HEAD_PHONEMES``), comes alone so it arrives fast: 0.22-0.37 s on two CPU cores (``None``:
        no separate head). On the CPU the rest of that chunk follows in growing pieces, each ready
        before the audio before it has played on two cores, decoded with a few frames of its neighbours
        and faded in from the piece before it so its edges sound as in :meth:`speak`; on a GPU it
        follows whole. With no ``max_seconds``, a long English text's first sentences (~1,000
        characters) are read (G2P) and chunked on their own and the rest once their audio is out, so
        the first audio does not wait for the whole text (the rest is normalised first: bad input in it
        still fails before the first chunk). A ``[pause:…]`` comes as a chunk of silence. With
        ``output``, chunks are written into it and yielded as views. Like any generator, nothing (not
        even checking the arguments) runs before the first ``next``, so a caller can start it in a
        worker thread. Once ``cancel`` is set the stream ends before its next chunk, even one already
        waiting for the model (a client gone)."""
        if first_chunk_tokens is not None and not (
            isinstance(first_chunk_tokens, int) and 1 <= first_chunk_tokens <= MAX_PHONEMES
        ):
            raise InvalidInputError(
                f"first_chunk_tokens must be an integer in 1..{MAX_PHONEMES}, got {first_chunk_tokens!r}"
            )
        target = self._output_target(output)
        request = self._request(text, _merge(options, voice_id, speed, emotion, seed, overrides))
        offset = 0
        tail = None  # what the last piece decoded past its end, for the next piece to fade in from
        for k, items in enumerate(self._blocks(text, phonemes, request, first_chunk_tokens)):  # G2P: not locked
            plans = self._plan(items, request, head=k == 0)
            while True:
                with self._lock:  # planning and rendering share the backend, the noise bank and the voices
                    if cancel is not None and cancel.is_set():
                        return
                    plan = next(plans, None)
                    if plan is None:
                        break
                    samples = self._samples(plan)
                    if target is None:
                        piece = wrap_output(np.empty(samples, dtype=np.float32))
                        tail = self._write(plan, request, piece, 0, noise_offset=offset, fade_from=tail)
                        audio = piece.owner
                    else:
                        target.require_capacity(offset + samples)
                        tail = self._write(plan, request, target, offset, fade_from=tail)
                        audio = target.owner[offset : offset + samples]
                if isinstance(plan, _Silence):
                    yield AudioChunk(audio, offset, "", [])
                else:
                    yield AudioChunk(audio, offset, plan.chunk.text, self._words(plan, offset), plan.chunk.phonemes)
                offset += samples

    # -- asyncio -----------------------------------------------------------------------------

    async def asynthesize(self, text: str, *args: Any, **kwargs: Any) -> Any:
        """:meth:`synthesize` in a worker thread, so the event loop keeps running; cancelling the
        awaiting task stops synthesis at the next chunk and frees the model."""
        return (await self.aspeak(text, *args, **kwargs)).audio

    async def aspeak(self, text: str, *args: Any, **kwargs: Any) -> Speech:
        """:meth:`speak` in a worker thread (same arguments); cancellable like :meth:`asynthesize`."""
        return await _off_loop(self.speak, text, *args, **kwargs)

    async def astream(self, text: str, *args: Any, **kwargs: Any) -> AsyncIterator[AudioChunk]:
        """:meth:`stream` with each chunk made in a worker thread (same arguments). Cancelling the
        consumer lets the chunk in progress finish, then stops, so the model is free for the next call."""
        chunks = self.stream(text, *args, **kwargs)
        loop = asyncio.get_running_loop()
        try:
            while True:
                step = loop.run_in_executor(None, next, chunks, None)
                try:
                    chunk = await asyncio.shield(step)
                except asyncio.CancelledError:
                    await asyncio.wait([step])  # the generator cannot be closed while it runs
                    raise
                if chunk is None:
                    return
                yield chunk
        finally:
            chunks.close()

    # -- internals ---------------------------------------------------------------------------

    def _output_target(self, output: Any) -> OutputTarget | None:
        """The caller's buffer, validated before any work; ``None`` when there is none."""
        if output is None:
            return None
        target = wrap_output(output)
        target.require_device(self.backend.output_devices, self.backend.name)
        return target

    def _request(self, text: str, options: SynthesisOptions) -> _Request:
        """Check ``options`` against the loaded model (before any model work); resolve voice and prosody."""
        if not isinstance(text, str):
            raise InvalidInputError(f"text must be a string, got {type(text).__name__}")
        character = self.characters.get(options.voice)
        if options.emotion not in self.emotions:
            raise not_found("emotion", options.emotion, self.emotions)
        prosody = resolve_prosody(
            character,
            self.emotions[options.emotion],
            pitch_shift=options.pitch_shift,
            pitch_range=options.pitch_range,
            energy=options.energy,
        )
        low, high = LIMITS["speed"]
        prosody = dataclasses.replace(prosody, speed=min(max(prosody.speed * options.speed, low), high))
        voice = character.voice if character else options.voice
        self.voices.pack(voice)  # unknown voice: fail before any work
        lexicon = None if options.lexicon is None else check_lexicon(options.lexicon, self.frontend.vocab)
        return _Request(
            voice,
            prosody,
            DEFAULT_SEED if options.seed is None else options.seed,
            None if options.max_seconds is None else int(options.max_seconds * SAMPLE_RATE),
            len(text.split()),
            lexicon,
            options.normalization,
            self._frontend(options.lang or voice_language(voice)).lang,  # unknown: fail before any work
        )

    def _items(
        self, text: str, phonemes: bool, request: _Request, head_tokens: int | None = None
    ) -> tuple[list[_Item], bool]:
        """Chunks (the first one's head split off with ``head_tokens``) and the pauses between them, and
        whether the text was cut first: the front-end never reads more than ``max_seconds`` can speak.

        On the CPU a stream's chunks come in growing pieces where they must: rendered whole, the rest of
        the first chunk would take seconds to follow a head that plays for one (~0.4x real time on two
        cores), and a second chunk as long as the first would not be ready when the first has played on
        a slower machine. A GPU renders a chunk in milliseconds, so there the rest of the first chunk
        comes whole and every other chunk too, each piece cut costing a little quality. (The chunks of
        text after a ``[pause:…]`` come whole: the pause is time to spare.)"""
        readable = _readable(text, request)
        growing = "cuda" not in self.backend.output_devices
        items: list[_Item] = []
        for part in split_pauses(readable):
            if isinstance(part, Pause):
                items.append(part)
                continue
            head = None if any(isinstance(i, Chunk) for i in items) else head_tokens
            if phonemes:
                items += self._frontend(request.lang).chunks_from_phonemes(part, head_tokens=head, growing=growing)
            else:
                items += self._frontend(request.lang).chunks(
                    part,
                    head_tokens=head,
                    growing=growing,
                    lexicon=request.lexicon,
                    normalization=request.normalization,
                )
        if not any(isinstance(i, Chunk) for i in items):
            raise InvalidInputError(f"text has nothing speakable: {text[:80]!r}")
        return items, len(readable) < len(text)

    def _blocks(self, text: str, phonemes: bool, request: _Request, head_tokens: int | None) -> Iterator[list[_Item]]:
        """A stream's items: all at once, or for a long English text with no ``max_samples`` its first
        sentences' (:data:`_FIRST_BLOCK_CHARS`) and then the rest's, each read (G2P) when it is needed."""
        cut = 0
        if not phonemes and request.max_samples is None:
            text = unicodedata.normalize("NFC", text)  # as the sentences are cut
            cut = self._first_block_end(text, request)
        if not cut:
            yield self._items(text, phonemes, request, head_tokens)[0]
            return
        yield self._items(text[:cut], phonemes, request, head_tokens)[0]
        yield self._items(text[cut:], phonemes, request)[0]

    def _first_block_end(self, text: str, request: _Request) -> int:
        """Where ``text`` is cut to be read in two: after its sentences of :data:`_FIRST_BLOCK_CHARS` or
        more, if it is an English text at least twice that long whose two parts each normalise on their
        own with valid inline phonemes (checked before anything is read, so bad input anywhere fails before
        the first chunk); else 0, and it is read whole."""
        frontend = self._frontend(request.lang)
        if len(text) < 2 * _FIRST_BLOCK_CHARS or not frontend.english:
            return 0
        end = 0
        for sentence in split_sentences(text[: 2 * _FIRST_BLOCK_CHARS], lang=request.lang)[:-1]:  # the last may go on
            end += len(sentence)
            if end >= _FIRST_BLOCK_CHARS:
                break
        else:
            return 0
        try:
            for part in [*split_pauses(text[:end]), *split_pauses(text[end:])]:
                if not isinstance(part, Pause):
                    frontend.check(part, request.lexicon, request.normalization)
        except InvalidInputError:
            return 0  # the whole text's own error, or a part with nothing to say alone ("👍" at the end)
        return end

    def _plan(self, items: list[_Item], request: _Request, head: bool = True) -> Iterator[_PlannedItem]:
        """Durations item by item, stopping at the sentence or pause that would pass ``max_samples``; with
        ``head``, the first chunk's head is planned for a stream (see :meth:`_parts`)."""
        used = 0
        first = next(item for item in items if isinstance(item, Chunk)) if head else None
        for k, item in enumerate(items):
            if isinstance(item, Chunk) and item.continues:
                continue  # planned with the piece it continues
            rest = _continuation(items[k + 1 :])
            for plan in self._parts(item, rest, request, head=item is first):
                if request.max_samples is not None and self._samples(plan) > request.max_samples - used:
                    room = request.max_samples - used
                    logger.warning(
                        "Script truncated to fit %gs duration (original: %d words)",
                        request.max_samples / SAMPLE_RATE,
                        request.script_words,
                    )
                    fitted = (
                        self._fit(plan, room // self.samples_per_frame, request) if isinstance(plan, _Planned) else None
                    )
                    if fitted is not None:
                        yield fitted
                    return
                used += self._samples(plan)
                yield plan

    def _parts(self, item: _Item, rest: list[Chunk], request: _Request, head: bool) -> Iterator[_PlannedItem]:
        """One item's audio plans, computed as they are needed: a pause, a chunk, or a chunk's first piece
        and the pieces that ``rest`` continues it with, streamed.

        Pieces render from the pass over their whole chunk, each from where the one before ends, so their
        durations are those of the whole chunk, as in :meth:`speak`. The stream's ``head`` comes first
        from a short pass over it and a few words after it (fast first audio; the words after it keep the
        head from ending as if the text ended there), with the whole chunk's style. The piece after the
        head renders from that pass too, read a few words past its own end: the pass over the whole chunk
        (~0.25 s for 300 phonemes on two cores) then runs while the head and that piece play, not in the
        head's time alone.
        """
        if isinstance(item, Pause):
            yield _Silence(round(item.seconds * SAMPLE_RATE))
            return
        if not rest:
            yield self._durations(item, request)
            return
        vocab = self.frontend.vocab

        def joined(*parts: Chunk) -> Chunk:
            return functools.reduce(lambda whole, piece: join_chunks(whole, piece, vocab), parts, item)

        whole_chunk = joined(*rest)
        if not head:
            yield from _cut(self._durations(whole_chunk, request), [item, *rest], 0, to_the_end=True)
            return
        split = 1 if len(rest) > 1 else 0  # the pieces rendered from the head's pass, after the head
        near, far = rest[:split], rest[split:]
        head_tokens = len(item.phonemes) + 1  # the boundary token and the head's phonemes
        near_tokens = sum(1 + len(piece.phonemes) for piece in near)  # each: its joining space, its phonemes
        # The pass reads _LOOKAHEAD_TOKENS past the head (its cost is the first audio's), and at least half
        # as many past the piece after it.
        reach = max(_LOOKAHEAD_TOKENS - near_tokens, _LOOKAHEAD_TOKENS // 2)
        lookahead = joined(*near, _prefix(far[0], _word_end(far[0], reach)))
        ahead = self._durations(lookahead, request, style_tokens=len(whole_chunk.token_ids))
        yield from _cut(ahead, [item, *near], 0, to_the_end=False, head=True)
        whole = self._durations(whole_chunk, request)
        yield from _cut(whole, far, head_tokens + near_tokens, to_the_end=True)

    def _samples(self, plan: _PlannedItem) -> int:
        return plan.samples if isinstance(plan, _Silence) else plan.frames * self.samples_per_frame

    def _durations(self, chunk: Chunk, request: _Request, style_tokens: int | None = None) -> _Planned:
        """Frames per token; only the end of the chunk's leading silence is rendered (its first frames are
        skipped, not shortened: see :meth:`_render`).
        The style is the voice's row for ``style_tokens`` tokens (default: the chunk's own)."""
        style = self.voices.style(request.voice, style_tokens or len(chunk.token_ids))
        features = self.backend.durations(_model_ids(chunk.token_ids), style, request.prosody.speed)
        lead = int(features.durations[0]) - _LEAD_FRAMES
        return _Planned(chunk, style, features, first_frame=max(lead, 0))

    def _fit(self, plan: _Planned, room: int, request: _Request) -> _Planned | None:
        """The longest prefix of ``plan`` ending at a sentence end that fits in ``room`` frames.

        A whole chunk's prefix gets a duration pass of its own (so it ends as text ends); the rest of a
        streamed chunk is cut at the sentence end within its pass."""
        frames_through = np.cumsum(plan.features.durations)  # model token first_token + k = phoneme k - 1
        phonemes = plan.chunk.phonemes
        cuts = [k + 1 for k, symbol in enumerate(phonemes) if symbol in SENTENCE_END]
        for cut in reversed(cuts):
            end = int(frames_through[plan.first_token + cut])
            if end - plan.first_frame > room:
                continue
            if plan.first_token:
                return dataclasses.replace(plan, chunk=_prefix(plan.chunk, cut), stop_frame=end, cut=True)
            fitted = self._durations(_prefix(plan.chunk, cut), request)
            if fitted.frames <= room:
                return dataclasses.replace(fitted, cut=True)
        return None

    def _write(
        self,
        plan: _PlannedItem,
        request: _Request,
        target: OutputTarget,
        offset: int,
        noise_offset: int | None = None,
        fade_from: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """Audio for one planned item into ``target`` at ``offset``: rendered speech (returns what
        :meth:`_render` returns) or silence (``None``)."""
        if isinstance(plan, _Silence):
            _write_silence(target, offset, plan.samples)
            return None
        return self._render(plan, request, target, offset, noise_offset, fade_from)

    def _render(
        self,
        plan: _Planned,
        request: _Request,
        target: OutputTarget,
        offset: int,
        noise_offset: int | None = None,
        fade_from: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """Prosody, pitch/energy edits, then decode into ``target`` at ``offset``; the noise is read
        at ``noise_offset`` (default ``offset``), its position in the whole utterance.

        A streamed piece that continues another fades in from ``fade_from``, what the piece before it
        decoded past their join (:data:`_CROSSFADE_SAMPLES`); returns the same for the piece after this
        one (its first samples past this piece's end), or ``None`` where no piece of its pass follows."""
        tokens = plan.frame_tokens()
        f0, n = plan.pass_prosody(lambda: self.backend.prosody(plan.features, tokens, plan.style))
        prosody = request.prosody
        if prosody.pitch_shift != 0 or prosody.pitch_range != 1:
            f0 = apply_pitch(f0, prosody.pitch_shift, prosody.pitch_range)
        if prosody.energy != 1:
            n = apply_energy(n, prosody.energy)
        # The prosody predictor is a bidirectional LSTM: it reads every frame of the pass. A run that
        # starts late (a trimmed leading silence, a later streamed piece) starts in the wrong state and
        # silences the first ~150 ms of speech; one that stops early (a streamed piece) ends its pitch
        # as if the text ended there (~60-80 Hz low mid-sentence). The decoder renders the frames asked
        # for (and, where a streamed piece meets another, a few beside them: _join_context).
        skip, stop = plan.first_frame, plan.first_frame + plan.frames
        spf = self.samples_per_frame
        start = offset if noise_offset is None else noise_offset
        before, after = self._join_context(plan, target, tokens.shape[0], start)
        lo, hi = skip - before, stop + after
        f0, n = f0[:, 2 * lo : 2 * hi], n[:, 2 * lo : 2 * hi]
        noise = self._noise.get(request.seed, start - before * spf, start + (hi - skip) * spf)
        if not (before or after):
            self._decode(plan, tokens[lo:hi], f0, n, noise, target, offset)
            return None
        if self._scratch.size < (hi - lo) * spf:
            self._scratch = np.empty((hi - lo) * spf, dtype=np.float32)
        scratch = self._scratch[: (hi - lo) * spf]
        self._decode(plan, tokens[lo:hi], f0, n, noise, wrap_output(scratch), 0)
        own, past = scratch[before * spf : (stop - lo) * spf], scratch[(stop - lo) * spf :]
        if before and fade_from is not None:
            _crossfade(fade_from, own)
        target.host_view(offset, offset + (stop - skip) * spf)[:] = own
        return past[:_CROSSFADE_SAMPLES].copy() if after else None

    def _join_context(self, plan: _Planned, target: OutputTarget, frames: int, start: int) -> tuple[int, int]:
        """Frames of ``plan``'s pass to decode before and after its own and then drop (see
        :data:`_JOIN_CONTEXT_FRAMES`): where it meets another piece of its chunk, and its audio is
        written in host memory. ``frames``: the pass's; ``start``: its first sample in the utterance."""
        if target.device != "cpu" or "cpu" not in self.backend.output_devices:
            return 0, 0
        before = min(_JOIN_CONTEXT_FRAMES, plan.first_frame, start // self.samples_per_frame) if plan.first_token else 0
        after = min(_JOIN_CONTEXT_FRAMES, frames - plan.first_frame - plan.frames)
        return before, after

    def _decode(
        self,
        plan: _Planned,
        frame_index: np.ndarray,
        f0: np.ndarray,
        n: np.ndarray,
        noise: np.ndarray,
        target: OutputTarget,
        offset: int,
    ) -> None:
        """Decode these frames of ``plan``'s pass into ``target`` at ``offset``, in windows of at most
        ``decode_window_frames`` (see .windows)."""
        spf = self.samples_per_frame
        for a, b in decode_windows(frame_energy(n), self.decode_window_frames):
            self.backend.decode(
                plan.features,
                frame_index[a:b],
                np.ascontiguousarray(f0[:, 2 * a : 2 * b]),
                np.ascontiguousarray(n[:, 2 * a : 2 * b]),
                plan.style,
                noise[:, a * spf : b * spf],
                target,
                offset + a * spf,
            )

    def _words(self, plan: _PlannedItem, offset: int) -> list[WordTimestamp]:
        """The item's words, timed from the start of the whole audio (``offset`` samples in)."""
        if isinstance(plan, _Silence):
            return []
        durations = plan.features.durations
        words = word_timestamps(
            plan.chunk.words,
            durations,
            self.samples_per_frame,
            SAMPLE_RATE,
            offset_tokens=1 + plan.first_token,
        )
        shift = (offset - plan.first_frame * self.samples_per_frame) / SAMPLE_RATE
        return [dataclasses.replace(w, start=w.start + shift, end=w.end + shift) for w in words]


def _merge(
    options: SynthesisOptions | None,
    voice_id: str | None,
    speed: float | None,
    emotion: str | None,
    seed: int | None,
    overrides: dict[str, Any],
) -> SynthesisOptions:
    """``options`` (default: the defaults) with the positional arguments that are not ``None`` and the
    keyword ``overrides`` applied."""
    if options is None:
        options = SynthesisOptions()
    elif not isinstance(options, SynthesisOptions):
        raise InvalidInputError(f"options must be SynthesisOptions, got {type(options).__name__}")
    given = {"voice": voice_id, "speed": speed, "emotion": emotion, "seed": seed}
    clash = sorted(name for name, value in given.items() if value is not None and name in overrides)
    if clash:
        raise InvalidInputError(f"{clash[0]} is given twice")
    return options.replace(**{name: value for name, value in given.items() if value is not None}, **overrides)


async def _off_loop(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call`` in a worker thread; a cancelled caller asks it to stop at its next chunk."""
    cancelled = threading.Event()

    def run() -> T:
        _CANCELLED.set(cancelled)
        return call(*args, **kwargs)

    future = asyncio.get_running_loop().run_in_executor(None, run)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        cancelled.set()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # _Cancelled is expected
        raise


def _stop_if_set(cancelled: threading.Event | None) -> None:
    if cancelled is not None and cancelled.is_set():
        raise _Cancelled


def _readable(text: str, request: _Request) -> str:
    """The start of ``text`` that ``max_seconds`` could possibly speak, cut at a space: a megabyte sent
    with a 45 s limit is not normalised and phonemised in full only to be thrown away."""
    if request.max_samples is None:
        return text
    seconds = request.max_samples / SAMPLE_RATE * request.prosody.speed
    limit = int(seconds * _MAX_CHARS_PER_SECOND) + _MAX_CHARS_PER_SECOND
    if len(text) <= limit:
        return text
    space = text.rfind(" ", limit // 2, limit)
    return text[: space if space > 0 else limit]


def _crossfade(fading: np.ndarray, audio: np.ndarray) -> None:
    """Fade ``audio``'s first samples in from ``fading`` (raised cosine, as long as the shorter), in place."""
    n = min(len(fading), len(audio))
    rising = (0.5 - 0.5 * np.cos(np.pi * np.arange(1, n + 1) / (n + 1))).astype(np.float32)
    audio[:n] = fading[:n] + rising * (audio[:n] - fading[:n])


def _write_silence(target: OutputTarget, offset: int, samples: int) -> None:
    if target.device == "cpu":
        target.host_view(offset, offset + samples)[:] = 0
    else:  # torch and CuPy device arrays take slice assignment
        target.owner[offset : offset + samples] = 0


def _model_ids(token_ids: list[int]) -> np.ndarray:
    """Model input: the token ids between two boundary tokens (id 0), batch of one."""
    return np.array([[0, *token_ids, 0]], dtype=np.int64)


def _allocate(samples: int, return_tensors: ReturnTensors) -> Any:
    if return_tensors == "pt":
        import torch

        return torch.empty(samples, dtype=torch.float32)
    if return_tensors != "np":
        raise InvalidInputError(f"return_tensors must be 'np' or 'pt', got {return_tensors!r}")
    return np.empty(samples, dtype=np.float32)


def _word_end(chunk: Chunk, limit: int) -> int:
    """The last word end at or before phoneme ``limit`` of ``chunk`` (the whole chunk if it is shorter)."""
    if len(chunk.phonemes) <= limit:
        return len(chunk.phonemes)
    return max((w.end_token for w in chunk.words if w.end_token <= limit), default=limit)


def _cut(
    plan: _Planned, pieces: list[Chunk], first_token: int, to_the_end: bool, head: bool = False
) -> Iterator[_Planned]:
    """``pieces`` rendered from ``plan``'s pass, one after another from its model token ``first_token``
    (each piece: the token before its phonemes, then its phonemes; that token is a joining space, or the
    chunk's boundary token, whose leading silence renders from ``plan.first_frame`` on); with
    ``to_the_end``, the last one renders to the end of the pass. With ``head``, the first piece stops where
    its closing punctuation starts when another piece follows it here: the pause spoken there opens that
    piece, rendered while the head plays, so the head comes sooner (the benchmark script's "Good morning,"
    by its comma's 2 frames: 4% sooner; docs/performance.md)."""
    frames_before = np.concatenate([[0], np.cumsum(plan.features.durations)])  # frames before model token k
    start = max(int(frames_before[first_token]), plan.first_frame)
    for k, piece in enumerate(pieces):
        end_token = first_token + 1 + len(piece.phonemes)
        last = k == len(pieces) - 1
        closing = _closing_punctuation(piece.phonemes) if head and k == 0 and not last else 0
        stop = max(int(frames_before[end_token - closing]), start + 1)
        yield dataclasses.replace(
            plan,
            chunk=piece,
            first_frame=start,
            stop_frame=None if to_the_end and last else stop,
            first_token=first_token,
        )
        start, first_token = stop, end_token


def _closing_punctuation(phonemes: str) -> int:
    """How many of ``phonemes``' last symbols are punctuation (``mˈɔɹnɪŋ,`` → 1)."""
    return len(phonemes) - len(phonemes.rstrip(_PUNCTUATION))


def _continuation(items: list[_Item]) -> list[Chunk]:
    """The chunks at the start of ``items`` that continue the one before them (streamed pieces)."""
    rest = []
    for item in items:
        if not (isinstance(item, Chunk) and item.continues):
            break
        rest.append(item)
    return rest


def _prefix(chunk: Chunk, cut: int) -> Chunk:
    """The first ``cut`` phonemes of ``chunk`` and the words inside them (no new G2P)."""
    words = [w for w in chunk.words if w.end_token <= cut]
    text = " ".join(w.spoken for w in words)
    return Chunk(text=text, phonemes=chunk.phonemes[:cut], token_ids=chunk.token_ids[:cut], words=words)
