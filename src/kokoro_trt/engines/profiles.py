"""TensorRT optimisation profiles: the range of token and frame counts each engine accepts.

One profile per engine covers every request: 1…512 tokens (510 text tokens plus the two boundary
tokens) and up to 2048 frames — 45 s of audio is 1800 frames of 600 samples at 24 kHz; the margin
covers slow speech and rounding. Kernels are tuned for the ``opt`` size, a typical sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..config import CONTEXT_TOKENS
from ..errors import EngineBuildError

MAX_TOKENS = CONTEXT_TOKENS
MAX_FRAMES = 2048

# Dynamic axes of each graph's inputs (as declared by the exporter's SPECS).
DYNAMIC_INPUT_AXES: dict[str, dict[str, dict[int, str]]] = {
    "duration": {"input_ids": {1: "tokens"}},
    "prosody": {"d": {1: "tokens"}, "frame_index": {0: "frames"}},
    "decoder": {
        "t_en": {2: "tokens"},
        "frame_index": {0: "frames"},
        "f0": {1: "f0_frames"},
        "n": {1: "f0_frames"},
        "noise": {1: "samples"},
    },
}

Shape = tuple[int, ...]


@dataclass(frozen=True)
class AxisRange:
    """Smallest, tuned-for and largest size of one dynamic axis."""

    min: int
    opt: int
    max: int

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise ValueError(f"need 1 <= min <= opt <= max, got {self}")

    def scaled(self, factor: int) -> AxisRange:
        return AxisRange(self.min * factor, self.opt * factor, self.max * factor)


def axis_ranges(
    *,
    max_tokens: int = MAX_TOKENS,
    opt_tokens: int = 96,
    max_frames: int = MAX_FRAMES,
    opt_frames: int = 320,
    samples_per_frame: int = 600,
) -> dict[str, AxisRange]:
    """Ranges of every named axis; F0 has two values per frame and audio ``samples_per_frame``."""
    frames = AxisRange(1, opt_frames, max_frames)
    return {
        "tokens": AxisRange(1, opt_tokens, max_tokens),
        "frames": frames,
        "f0_frames": frames.scaled(2),
        "samples": frames.scaled(samples_per_frame),
    }


def stage_profile(
    stage: str, input_shapes: Mapping[str, Sequence[int]], ranges: Mapping[str, AxisRange]
) -> dict[str, tuple[Shape, Shape, Shape]]:
    """(min, opt, max) shape of each input of ``stage``; ``input_shapes`` marks dynamic axes with -1."""
    axes = DYNAMIC_INPUT_AXES[stage]
    profile = {}
    for name, shape in input_shapes.items():
        dynamic = axes.get(name, {})
        unexpected = [i for i, size in enumerate(shape) if size < 0 and i not in dynamic]
        missing = [i for i in dynamic if i >= len(shape) or shape[i] >= 0]
        if unexpected or missing:
            raise EngineBuildError(
                f"{stage} graph input {name!r} has shape {tuple(shape)}; expected dynamic axes "
                f"{sorted(dynamic)} only — re-export the graphs (`kokoro-trt export`)"
            )
        low, opt, high = (
            tuple(int(getattr(ranges[dynamic[i]], bound)) if i in dynamic else size for i, size in enumerate(shape))
            for bound in ("min", "opt", "max")
        )
        profile[name] = (low, opt, high)
    return profile
