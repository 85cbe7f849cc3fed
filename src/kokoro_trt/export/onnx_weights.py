"""Read an ONNX graph's weights as FP32 arrays, undoing onnxruntime's dynamic INT8 quantisation.

``onnxruntime.quantization.quantize_dynamic`` renames each weight ``W`` to ``W_quantized`` (int8 or
uint8) and adds ``W_scale`` and ``W_zero_point``; identical zero points are later deduplicated, so a
weight's zero point is read from the node that consumes it. The quantised value is
``(q - zero_point) * scale`` with the scale per tensor, per column (``MatMulInteger``) or per
direction (``DynamicQuantizeLSTM``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import ExportError, ModelNotFoundError

QUANTIZED = "_quantized"

# Where each quantised consumer keeps a weight's zero point: {op: {weight input index: zp index}}.
_ZERO_POINT_INPUT = {
    "MatMulInteger": {1: 3},
    "ConvInteger": {1: 3},
    "DynamicQuantizeLSTM": {1: 9, 2: 11},
}


@dataclass(frozen=True)
class Use:
    """One place a weight is read: the consuming node and the input slot."""

    node: onnx.NodeProto
    index: int


@dataclass
class OnnxWeights:
    """A graph's initialisers by name (quantised ones under their FP32 name) and their consumers."""

    graph: onnx.GraphProto
    raw: dict[str, np.ndarray]
    uses: dict[str, list[Use]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> OnnxWeights:
        path = Path(path)
        if not path.is_file():
            raise ModelNotFoundError(f"ONNX model not found: {path}")
        try:
            model = onnx.load(str(path))
        except Exception as exc:  # onnx raises DecodeError, ValueError... on a non-ONNX file
            raise ExportError(f"{path} is not a readable ONNX model: {exc}") from exc
        graph = model.graph
        raw = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        uses: dict[str, list[Use]] = defaultdict(list)
        for node in graph.node:
            for index, name in enumerate(node.input):
                if name in raw:
                    uses[name].append(Use(node, index))
        return cls(graph, raw, dict(uses))

    def weight_names(self) -> list[str]:
        """Names of every float or quantised weight (quantised ones without their suffix)."""
        names = []
        for name, array in self.raw.items():
            if name.endswith(QUANTIZED):
                names.append(name[: -len(QUANTIZED)])
            elif array.dtype == np.float32 and not self._is_quant_param(name):
                names.append(name)
        return names

    def stored_names(self, name: str) -> tuple[str, ...]:
        """The initialisers that hold weight ``name``: itself, or its quantised value and scale."""
        if name in self.raw:
            return (name,)
        zero_point = self._zero_point_name(name)
        return (name + QUANTIZED, name + "_scale") + ((zero_point,) if zero_point else ())

    def uses_of(self, name: str) -> list[Use]:
        return self.uses.get(name + QUANTIZED if name + QUANTIZED in self.raw else name, [])

    def fp32(self, name: str) -> np.ndarray:
        """The FP32 value of weight ``name``, dequantised if the graph stores it quantised."""
        if name in self.raw:
            return self.raw[name].astype(np.float32)
        q = self.raw.get(name + QUANTIZED)
        scale = self.raw.get(name + "_scale")
        if q is None or scale is None:
            raise ExportError(f"weight {name!r} is neither stored as FP32 nor as {name}{QUANTIZED} + scale")
        zp_name = self._zero_point_name(name)
        zero_point = self.raw[zp_name] if zp_name else np.zeros((), dtype=np.float32)
        uses = self.uses_of(name)
        per_column = bool(uses) and uses[0].node.op_type == "MatMulInteger"
        if scale.size > 1 and not per_column:
            # Per output channel (conv) or per direction (LSTM): broadcast along axis 0.
            shape = scale.shape + (1,) * (q.ndim - scale.ndim)
            scale, zero_point = scale.reshape(shape), zero_point.reshape(shape if zero_point.size > 1 else ())
        return ((q.astype(np.float32) - zero_point.astype(np.float32)) * scale).astype(np.float32)

    def _zero_point_name(self, name: str) -> str | None:
        """The initialiser holding the zero point of quantised weight ``name`` (None: it is 0)."""
        if name + "_zero_point" in self.raw:
            return name + "_zero_point"
        for use in self.uses_of(name):
            slot = _ZERO_POINT_INPUT.get(use.node.op_type, {}).get(use.index)
            if slot is None and use.node.op_type == "Gather":
                slot_node, slot = self._dequantize_after(use.node), 2
            else:
                slot_node = use.node
            if slot_node is not None and slot is not None and len(slot_node.input) > slot:
                zp_name = slot_node.input[slot]
                if zp_name in self.raw:
                    return zp_name
        return None

    def _dequantize_after(self, node: onnx.NodeProto) -> onnx.NodeProto | None:
        """The DequantizeLinear that turns a quantised Gather's output back into floats."""
        for candidate in self.graph.node:
            if candidate.op_type == "DequantizeLinear" and candidate.input[0] == node.output[0]:
                return candidate
        return None

    def _is_quant_param(self, name: str) -> bool:
        for suffix in ("_scale", "_zero_point"):
            if name.endswith(suffix) and name[: -len(suffix)] + QUANTIZED in self.raw:
                return True
        return False
