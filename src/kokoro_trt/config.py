"""Model configuration: the Kokoro ``config.json`` as a typed, immutable object."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ModelNotFoundError

SAMPLE_RATE = 24_000
"""Kokoro speaks at 24 kHz mono."""
CONTEXT_TOKENS = 512
"""Kokoro-82M v1.0's context: the most tokens one pass reads (``ModelConfig.default().context_length``)."""
MAX_PHONEMES = CONTEXT_TOKENS - 2
"""Phonemes one pass speaks: the context minus the two boundary tokens."""
PRECISIONS = ("fp32", "int8")
"""``load_kokoro(precision=)``: FP32 everywhere (default), or the INT8 decoder on ONNX Runtime CPU."""


@dataclass(frozen=True)
class ModelConfig:
    """The parts of Kokoro's ``config.json`` the pipeline needs, plus the raw dict for ``KModel``."""

    vocab: Mapping[str, int]
    n_token: int
    context_length: int
    samples_per_frame: int
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def max_phonemes(self) -> int:
        """Phonemes per chunk: the context minus the two boundary tokens."""
        return self.context_length - 2

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ModelConfig:
        istft = raw["istftnet"]
        return cls(
            vocab=dict(raw["vocab"]),
            n_token=int(raw["n_token"]),
            context_length=int(raw["plbert"]["max_position_embeddings"]),
            # F0/N run at 2x the duration frame rate; the generator upsamples by prod(rates) * hop.
            samples_per_frame=2 * math.prod(istft["upsample_rates"]) * int(istft["gen_istft_hop_size"]),
            raw=raw,
        )

    @classmethod
    def from_json(cls, path: str | Path) -> ModelConfig:
        path = Path(path)
        if not path.is_file():
            raise ModelNotFoundError(f"Model config not found: {path}. Pass the path of Kokoro's config.json.")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def default(cls) -> ModelConfig:
        """The Kokoro-82M v1.0 config shipped inside this package (vocabulary included)."""
        text = resources.files("kokoro_trt.data").joinpath("config.json").read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    def to_json(self) -> str:
        return json.dumps(self.raw, sort_keys=True, ensure_ascii=False)
