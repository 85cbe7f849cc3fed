"""Voices: stock voice packs and blends, prosody controls, and character/emotion presets."""

from .blend import Blend, parse_blend
from .catalog import DEFAULT_VOICE, FALLBACK_VOICE, STOCK_VOICES
from .presets import Character, Emotion, load_characters, load_emotions, resolve_prosody
from .prosody import LIMITS, Prosody, apply_energy, apply_pitch
from .store import VoiceStore
from .torchfile import load_torch_tensor

__all__ = [
    "DEFAULT_VOICE",
    "FALLBACK_VOICE",
    "LIMITS",
    "STOCK_VOICES",
    "Blend",
    "Character",
    "Emotion",
    "Prosody",
    "VoiceStore",
    "apply_energy",
    "apply_pitch",
    "load_characters",
    "load_emotions",
    "load_torch_tensor",
    "parse_blend",
    "resolve_prosody",
]
