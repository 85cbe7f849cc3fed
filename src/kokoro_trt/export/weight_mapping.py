"""Map a kokoro-onnx graph's weights onto ``KModel`` state-dict keys, in ``KModel``'s layouts.

kokoro-onnx wraps ``KModel`` as ``encoder`` (bert, bert_encoder, predictor, text_encoder) and
``decoder.decoder``. Most weights keep their torch name (``encoder.predictor.F0.1.norm1.fc.weight``);
the rest are anonymous (``onnx::MatMul_6547``, or a weight-norm product constant-folded into
``/decoder/decoder/encode/Mul_output_0``) and are placed by the scope of the node that reads them
(``/decoder/decoder/encode/conv1/Conv_quant`` → ``decoder.encode.conv1``). The consuming op also fixes
the layout: MatMul weights are transposed ``nn.Linear`` weights, LSTM weights follow ONNX's gate order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ExportError
from .onnx_weights import OnnxWeights, Use

# ONNX LSTM gates are (input, output, forget, cell); torch's are (input, forget, cell, output).
_ONNX_TO_TORCH_GATES = (0, 2, 3, 1)
_LSTM_OPS = ("LSTM", "DynamicQuantizeLSTM")
_MATMUL_OPS = ("MatMul", "MatMulInteger")
# Input slot of an anonymous weight → parameter name, per consuming op.
_ROLE = {
    "Conv": {1: "weight", 2: "bias"},
    "ConvInteger": {1: "weight"},
    "ConvTranspose": {1: "weight", 2: "bias"},
    "MatMul": {1: "weight"},
    "MatMulInteger": {1: "weight"},
    "Gemm": {1: "weight", 2: "bias"},
    "Gather": {0: "weight"},
    "LSTM": {1: "W", 2: "R", 3: "B"},
    "DynamicQuantizeLSTM": {1: "W", 2: "R", 3: "B"},
}
_REPEAT_SUFFIX = re.compile(r"_\d+$")  # torch names the 2nd, 3rd... call of a module "query_1", ...


@dataclass(frozen=True)
class Skeleton:
    """What a ``KModel`` for the config looks like: every state-dict key's shape, and module names."""

    shapes: Mapping[str, tuple[int, ...]]
    modules: frozenset[str]


def map_weights(weights: OnnxWeights, skeleton: Skeleton) -> tuple[dict[str, np.ndarray], set[str]]:
    """FP32 values for every KModel key the graph holds, and the initialisers they were read from."""
    values: dict[str, np.ndarray] = {}
    used: set[str] = set()
    for name in weights.weight_names():
        uses = weights.uses_of(name)
        placed = _place(name, uses, skeleton)
        if placed is None:
            continue
        module, attr, use = placed
        for key, value in _convert(weights.fp32(name), module, attr, use, skeleton).items():
            expected = skeleton.shapes[key]
            if tuple(value.shape) != expected:
                raise ExportError(
                    f"ONNX weight {name!r} maps to {key} with shape {tuple(value.shape)}, "
                    f"but KModel expects {expected}: the graph is not this Kokoro architecture"
                )
            if key in values and not np.array_equal(values[key], value):
                raise ExportError(f"two different ONNX weights map to {key} (the second is {name!r})")
            values[key] = value
        used.update(weights.stored_names(name))
    return values, used


def _place(name: str, uses: list[Use], skeleton: Skeleton) -> tuple[str, str, Use | None] | None:
    """(KModel module, parameter, consuming use) for weight ``name``, or None if it is no parameter."""
    use = next((u for u in uses if u.index in _ROLE.get(u.node.op_type, {})), None)
    if "/" not in name and not name.startswith("onnx::"):  # a torch parameter name
        onnx_module, _, attr = name.rpartition(".")
        module = _resolve(onnx_module.split("."), skeleton)
        if module is not None and _is_parameter(module, attr, skeleton):
            return module, attr, use
    if use is None or use.node.op_type not in _ROLE:
        return None
    module = _resolve(_scope(use.node.name), skeleton)
    attr = _ROLE[use.node.op_type][use.index]
    parameter = "weight_ih_l0" if attr in ("W", "R", "B") else attr
    if module is None or not _is_parameter(module, parameter, skeleton):
        return None
    return module, attr, use


def _scope(node_name: str) -> list[str]:
    """Module path of a torch-exported node: "/encoder/text_encoder/cnn.0/cnn.0.0/Conv" → [..., "cnn.0.0"]."""
    path: list[str] = []
    for part in node_name.strip("/").split("/")[:-1]:
        if path and part.startswith(path[-1] + "."):  # Sequential children repeat their parent's name
            path[-1] = part
        else:
            path.append(part)
    return ".".join(path).split(".")


def _resolve(parts: list[str], skeleton: Skeleton) -> str | None:
    """The KModel module an ONNX module path names (dropping kokoro-onnx's wrapper), if any."""
    if parts and parts[0] in ("encoder", "decoder"):
        parts = parts[1:]
    for candidate in _spellings(parts):
        # F0Ntrain runs predictor.F0/N/shared outside predictor.forward, so their scope lacks it.
        for module in (candidate, "predictor." + candidate):
            if module in skeleton.modules:
                return module
    return None


def _spellings(parts: list[str]) -> Iterator[str]:
    yield ".".join(parts)
    yield ".".join(_REPEAT_SUFFIX.sub("", part) for part in parts)


def _is_parameter(module: str, attr: str, skeleton: Skeleton) -> bool:
    key = f"{module}.{attr}"
    return key in skeleton.shapes or f"{key}_g" in skeleton.shapes


def _convert(value: np.ndarray, module: str, attr: str, use: Use | None, skeleton: Skeleton) -> dict[str, np.ndarray]:
    """KModel key(s) and value(s) for one ONNX weight read by ``use``."""
    op = use.node.op_type if use is not None else ""
    if attr in ("W", "R", "B") and op in _LSTM_OPS:
        return _lstm(value, module, attr, transposed=op == "DynamicQuantizeLSTM")
    if op in _MATMUL_OPS and attr == "weight" or op == "Gemm" and attr == "weight" and not _attribute(use, "transB"):
        value = value.T
    key = f"{module}.{attr}"
    if key in skeleton.shapes:
        return {key: np.ascontiguousarray(value)}
    return _weight_norm(value, key)


def _attribute(use: Use | None, name: str) -> int:
    if use is None:
        return 0
    return next((a.i for a in use.node.attribute if a.name == name), 0)


def _lstm(value: np.ndarray, module: str, role: str, transposed: bool) -> dict[str, np.ndarray]:
    """ONNX LSTM W [dirs, 4H, in] / R [dirs, 4H, H] / B [dirs, 8H] → torch's per-direction tensors.

    ``DynamicQuantizeLSTM`` stores W and R transposed ([dirs, in, 4H]).
    """
    out = {}
    for direction, array in enumerate(value):
        suffix = "_l0" + ("_reverse" if direction else "")
        if role == "B":
            input_bias, hidden_bias = np.split(array, 2)
            out[f"{module}.bias_ih{suffix}"] = _torch_gates(input_bias)
            out[f"{module}.bias_hh{suffix}"] = _torch_gates(hidden_bias)
        else:
            matrix = array.T if transposed else array
            out[f"{module}.weight_{'ih' if role == 'W' else 'hh'}{suffix}"] = _torch_gates(matrix)
    return out


def _torch_gates(array: np.ndarray) -> np.ndarray:
    gates = np.split(array, 4, axis=0)
    return np.ascontiguousarray(np.concatenate([gates[i] for i in _ONNX_TO_TORCH_GATES], axis=0))


def _weight_norm(weight: np.ndarray, key: str) -> dict[str, np.ndarray]:
    """Split W into legacy ``weight_norm`` (dim=0) parameters with g·v/‖v‖ = W exactly.

    Channels that quantised to all zeros get g = 0 and v = 1 (not v = 0, whose norm would divide 0/0).
    """
    flat = weight.reshape(weight.shape[0], -1).astype(np.float64)
    norm = np.linalg.norm(flat, axis=1)
    zero = norm == 0
    v = np.where(zero[:, None], 1.0, flat).reshape(weight.shape)
    g = norm.reshape((-1,) + (1,) * (weight.ndim - 1))
    return {f"{key}_g": g.astype(np.float32), f"{key}_v": v.astype(np.float32)}


def skeleton_of(model: torch.nn.Module) -> Skeleton:
    """Shapes and module names of a (possibly meta-device) KModel."""
    shapes = {key: tuple(t.shape) for key, t in model.state_dict().items()}
    return Skeleton(shapes=shapes, modules=frozenset(name for name, _ in model.named_modules() if name))
