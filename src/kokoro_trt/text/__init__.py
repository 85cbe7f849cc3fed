"""Text front-end for Kokoro's nine languages: normalisation, G2P, chunking, phoneme input and word
timestamps."""

from .chunking import Chunk, Word, join_chunks
from .frontend import TextFrontend
from .languages import LANGUAGES, canonical_language, voice_language
from .lexicon import check_lexicon, load_lexicon
from .normalize import NormalizedText, PhonemeOverride, WordSpan
from .options import NormalizationOptions
from .pauses import Pause, split_pauses
from .sentences import split_sentences
from .timestamps import WordTimestamp, word_timestamps
from .vocab import phonemes_to_ids

__all__ = [
    "LANGUAGES",
    "Chunk",
    "NormalizationOptions",
    "NormalizedText",
    "Pause",
    "PhonemeOverride",
    "TextFrontend",
    "Word",
    "WordSpan",
    "WordTimestamp",
    "canonical_language",
    "check_lexicon",
    "join_chunks",
    "load_lexicon",
    "phonemes_to_ids",
    "split_pauses",
    "split_sentences",
    "voice_language",
    "word_timestamps",
]
