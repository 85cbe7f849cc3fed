"""Recover an FP32 Kokoro checkpoint from a kokoro-onnx model file (INT8 or FP32).

The offline fallback ships only kokoro-onnx's INT8 graph. Dequantising its weights and putting them
back into ``KModel`` gives a torch model to export our own graphs from, without any download.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from kokoro.model import KModel

from ..config import ModelConfig
from ..errors import ExportError
from .kmodel import build_kmodel
from .onnx_weights import OnnxWeights
from .weight_mapping import Skeleton, map_weights, skeleton_of

StateDict = dict[str, dict[str, torch.Tensor]]
"""Kokoro's checkpoint layout: {"bert": {...}, "bert_encoder": ..., "predictor", "text_encoder", "decoder"}."""

PARTS = ("bert", "bert_encoder", "predictor", "text_encoder", "decoder")
GRAPH_INPUTS = frozenset({"tokens", "style", "speed"})
# ALBERT's pooler runs but its output is discarded (CustomAlbert returns last_hidden_state), so the
# export dropped it. Set to 0.
UNUSED_AT_INFERENCE = frozenset({"bert.pooler.weight", "bert.pooler.bias"})


@dataclass(frozen=True)
class ImportReport:
    """How completely the file's weights filled KModel's state dict."""

    mapped: int
    """KModel state-dict entries filled from the file."""
    unmapped: tuple[str, ...]
    """Entries not in the file: InstanceNorm affines (identity, set to 1/0) and the unused pooler (0)."""
    unused_initializers: tuple[str, ...]
    """Initialisers that are no KModel parameter (shape constants, folded reciprocals, STFT bases...)."""
    mapped_elements: int
    total_elements: int

    @property
    def mapped_fraction(self) -> float:
        """Share of KModel's parameter elements read from the file."""
        return self.mapped_elements / self.total_elements


def import_kokoro_onnx(path: str | Path, config: Mapping) -> tuple[StateDict, ImportReport]:
    """Read a kokoro-onnx graph's weights into a ``kokoro-v1_0.pth``-style FP32 state dict.

    Raises ``ModelNotFoundError`` if ``path`` is missing and ``ExportError`` if it is not a kokoro-onnx
    graph of this architecture (wrong interface, a shape mismatch or a parameter missing).
    """
    weights = OnnxWeights.load(path)
    inputs = {value.name for value in weights.graph.input}
    if not GRAPH_INPUTS <= inputs:
        raise ExportError(
            f"{path} is not a kokoro-onnx graph: inputs {sorted(inputs)}, expected {sorted(GRAPH_INPUTS)}"
        )
    model = _skeleton_model(config)
    skeleton = skeleton_of(model)
    values, used = map_weights(weights, skeleton)

    folded = _identity_norms(model)
    unmapped = sorted(set(skeleton.shapes) - set(values))
    missing = [key for key in unmapped if key not in folded and key not in UNUSED_AT_INFERENCE]
    if missing:
        raise ExportError(
            f"{path} is not a complete kokoro-onnx graph: {len(missing)} KModel parameters not found, "
            f"e.g. {', '.join(missing[:5])}"
        )
    for key in unmapped:
        values[key] = np.full(skeleton.shapes[key], folded.get(key, 0.0), dtype=np.float32)
    _check_finite(values)

    state_dict = _split(values, skeleton)
    elements = {key: int(np.prod(shape)) for key, shape in skeleton.shapes.items()}
    report = ImportReport(
        mapped=len(skeleton.shapes) - len(unmapped),
        unmapped=tuple(unmapped),
        unused_initializers=tuple(sorted(set(weights.raw) - used)),
        mapped_elements=sum(n for key, n in elements.items() if key not in unmapped),
        total_elements=sum(elements.values()),
    )
    return state_dict, report


def _skeleton_model(config: Mapping) -> KModel:
    """KModel on the meta device: its structure and shapes without allocating or initialising weights."""
    with torch.device("meta"):
        return build_kmodel(ModelConfig.from_dict(config))


def _identity_norms(model: torch.nn.Module) -> dict[str, float]:
    """InstanceNorm affine keys → their identity value (weight 1, bias 0).

    AdaIN1d enables the affine only to work around an old exporter bug; the checkpoint has no values
    for it, so every export keeps the identity and folds it away.
    """
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.InstanceNorm1d) and module.affine:
            out[f"{name}.weight"], out[f"{name}.bias"] = 1.0, 0.0
    return out


def _check_finite(values: Mapping[str, np.ndarray]) -> None:
    bad = [key for key, value in values.items() if not np.isfinite(value).all()]
    if bad:
        raise ExportError(f"imported weights hold NaN or Inf in {', '.join(bad[:5])}")


def _split(values: Mapping[str, np.ndarray], skeleton: Skeleton) -> StateDict:
    """Flat KModel keys → {part: {key within part: tensor}}, in KModel's own key order."""
    state_dict: StateDict = {part: {} for part in PARTS}
    for key in skeleton.shapes:
        part, _, rest = key.partition(".")
        state_dict[part][rest] = torch.from_numpy(np.ascontiguousarray(values[key], dtype=np.float32))
    return state_dict
