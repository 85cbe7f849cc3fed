"""What every inference backend provides: the three stages, run on prepared inputs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ...cudart import error_type_for_message
from ...errors import KokoroError
from ..buffers import OutputTarget


@dataclass
class TextFeatures:
    """Output of the duration stage: frames per token, plus features kept in the backend's memory."""

    durations: np.ndarray
    """Frames per model token, int64 [T]."""
    prosody_input: Any
    """The duration encoder's features [1, T, 640] (graph tensor ``d``): what the prosody stage reads."""
    decoder_input: Any
    """The text encoder's features [1, 512, T] (graph tensor ``t_en``): what the decoder reads."""


class Backend(Protocol):
    """Runs the ``duration``, ``prosody`` and ``decoder`` graphs for one sequence."""

    @property
    def name(self) -> str: ...

    @property
    def output_devices(self) -> tuple[str, ...]:
        """Where :meth:`decode` can write: ``"cpu"``, ``"cuda"``."""
        ...

    def durations(self, input_ids: np.ndarray, style: np.ndarray, speed: float) -> TextFeatures: ...

    def prosody(
        self, features: TextFeatures, frame_index: np.ndarray, style: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def decode(
        self,
        features: TextFeatures,
        frame_index: np.ndarray,
        f0: np.ndarray,
        n: np.ndarray,
        style: np.ndarray,
        noise: np.ndarray,
        out: OutputTarget,
        offset: int,
    ) -> None:
        """Write ``len(frame_index) * samples_per_frame`` samples into ``out`` at ``offset``."""
        ...


@contextlib.contextmanager
def backend_errors(backend: str, stage: str) -> Iterator[None]:
    """Turn any failure inside an inference library into a :class:`BackendError`."""
    try:
        yield
    except KokoroError:
        raise
    except Exception as exc:  # ORT, TensorRT and CUDA raise assorted types
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error_type_for_message(message)(f"{backend} failed in the {stage} stage: {message}") from exc
