"""Inventory of an exported graph: its ops, its dynamic axes, and anything TensorRT would reject.

A shape is *data-dependent* when an op's output shape is decided by tensor values that flow from the
graph's inputs (``Reshape`` to a shape computed from ``durations``, ``NonZero``...). Values that come
only from ``Shape``/``Size`` of tensors, constants and initialisers are fine: they depend on input
shapes, which the caller fixes before running. The check is a taint analysis over the graph.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import onnx

FORBIDDEN_OPS = frozenset(
    {
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
        "ScatterND",
        "ScatterElements",
        "NonZero",
        "Unique",
        "Compress",
        "Loop",
        "If",
        "Scan",
        "NonMaxSuppression",
        "DFT",
        "STFT",
        "Resize",
        "Upsample",
    }
)
"""Non-deterministic, in-place scatter, control flow, data-dependent output or complex-valued ops, and
up-sampling ops: TensorRT's graph compiler fails on a ``Resize`` after an LSTM over a dynamic length
(``resize_lowering.cpp: insert_point is not in bb``), so the stages repeat or interpolate explicitly."""

SHAPE_INPUTS = {
    "Reshape": (1,),
    "Expand": (1,),
    "ConstantOfShape": (0,),
    "Range": (0, 1, 2),
    "Tile": (1,),
    "Slice": (1, 2, 3, 4),
    "Pad": (1,),
    "Resize": (1, 2, 3),
    "Upsample": (1,),
    "TopK": (1,),
    "OneHot": (1,),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "ReduceSum": (1,),
    "Split": (1,),
}
"""For ops whose output shape follows from some inputs' values: the positions of those inputs."""

SHAPE_SOURCES = frozenset({"Shape", "Size"})
COMPLEX_TYPES = frozenset({onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128})


@dataclass(frozen=True)
class GraphInventory:
    """What a graph contains and what is wrong with it (empty ``problems`` means exportable)."""

    path: Path
    opset: int
    ops: Counter
    dynamic_axes: dict[str, tuple[str, ...]]
    problems: tuple[str, ...]


def _dynamic_axes(values: list[onnx.ValueInfoProto]) -> dict[str, tuple[str, ...]]:
    return {
        v.name: tuple(d.dim_param for d in v.type.tensor_type.shape.dim if d.dim_param)
        for v in values
        if any(d.dim_param for d in v.type.tensor_type.shape.dim)
    }


def _tainted_shape_inputs(graph: onnx.GraphProto) -> list[str]:
    """Nodes whose output shape depends on values computed from the graph inputs."""
    tainted = {i.name for i in graph.input} - {init.name for init in graph.initializer}
    problems = []
    for node in graph.node:  # ONNX graphs are topologically sorted
        positions = SHAPE_INPUTS.get(node.op_type, ())
        for pos in positions:
            if pos < len(node.input) and node.input[pos] in tainted:
                problems.append(f"{node.op_type} '{node.name}' takes its shape from data '{node.input[pos]}'")
        if node.op_type not in SHAPE_SOURCES and any(i in tainted for i in node.input):
            tainted.update(node.output)
    return problems


def inventory(path: str | Path) -> GraphInventory:
    """Read ``path`` and list its ops, dynamic axes and problems."""
    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    ops = Counter(node.op_type for node in graph.node)
    problems = [f"forbidden op {op} x{count}" for op, count in sorted(ops.items()) if op in FORBIDDEN_OPS]
    problems += [
        f"complex tensor '{v.name}'"
        for v in [*graph.input, *graph.output, *graph.value_info]
        if v.type.tensor_type.elem_type in COMPLEX_TYPES
    ]
    problems += _tainted_shape_inputs(graph)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return GraphInventory(
        path=path,
        opset=opset,
        ops=ops,
        dynamic_axes=_dynamic_axes([*graph.input, *graph.output]),
        problems=tuple(problems),
    )
