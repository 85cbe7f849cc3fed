"""English text front-end: normalisation, G2P, chunking, phoneme input and word timestamps."""

from .chunking import Chunk, Word
from .frontend import TextFrontend
from .normalize import NormalizedText, PhonemeOverride, WordSpan
from .timestamps import WordTimestamp, word_timestamps
from .vocab import phonemes_to_ids

__all__ = [
    "Chunk",
    "NormalizedText",
    "PhonemeOverride",
    "TextFrontend",
    "Word",
    "WordSpan",
    "WordTimestamp",
    "phonemes_to_ids",
    "word_timestamps",
]
