"""The Snake blocks of the decoder graph as ``AdaSnake`` nodes (see :mod:`.snake_kernel`).

:func:`fuse_snakes` rewrites each ``InstanceNormalization → Sin → Mul(s, s) → Add(u, ·)`` of the exported
decoder (export/snake.py's folded blocks) into ``kokoro_trt.AdaSnake(x, scale, bias)``; everything else,
weights included, is untouched. :mod:`.cpu_decoder` applies it, with :mod:`.spectral_conv`, to the graph
ONNX Runtime CPU runs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .snake_kernel import DOMAIN, OP_TYPE, add_domain

if TYPE_CHECKING:
    import onnx

EPSILON = 1e-5
"""The kernel's instance-norm epsilon (torch's default, the exported decoder's): other norms stay as they are."""


def fuse_snakes(model: onnx.ModelProto) -> int:
    """Rewrite ``model``'s Snake blocks in place into ``AdaSnake`` nodes; returns how many."""
    from onnx import helper

    nodes = list(model.graph.node)
    readers: dict[str, list[int]] = defaultdict(list)  # tensor name -> indices of the nodes reading it
    for index, node in enumerate(nodes):
        for name in dict.fromkeys(node.input):
            readers[name].append(index)
    outputs = {output.name for output in model.graph.output}
    fused: dict[int, Any] = {}
    dropped: set[int] = set()
    for index, norm in enumerate(nodes):
        pattern = _snake_after(norm, nodes, readers, outputs)
        if pattern is None:
            continue
        add, removed = pattern
        fused[index] = helper.make_node(
            OP_TYPE, list(norm.input), [nodes[add].output[0]], name=f"{norm.name}/{OP_TYPE}", domain=DOMAIN
        )
        dropped.update(removed)
    if fused:
        kept = [fused.get(index, node) for index, node in enumerate(nodes) if index not in dropped]
        del model.graph.node[:]
        model.graph.node.extend(kept)
        add_domain(model)
    return len(fused)


def _snake_after(
    norm: Any, nodes: list[Any], readers: dict[str, list[int]], outputs: set[str]
) -> tuple[int, list[int]] | None:
    """For an instance norm ``u`` read only by ``Sin`` and ``Add(u, sin(u)²)``: that Add's index and those
    of the nodes the fused op replaces (duplicate, unused ``Mul(s, s)`` included); else ``None``."""
    if norm.op_type != "InstanceNormalization" or norm.output[0] in outputs:
        return None
    epsilon = next((a.f for a in norm.attribute if a.name == "epsilon"), EPSILON)
    if abs(epsilon - EPSILON) > 1e-9:
        return None
    u = norm.output[0]
    sines = [i for i in readers[u] if nodes[i].op_type == "Sin"]
    adds = [i for i in readers[u] if nodes[i].op_type == "Add"]
    if len(readers[u]) != 2 or len(sines) != 1 or len(adds) != 1:
        return None
    s = nodes[sines[0]].output[0]
    squares = readers[s]
    if s in outputs or not squares or any(nodes[i].op_type != "Mul" or list(nodes[i].input) != [s, s] for i in squares):
        return None
    used = [i for i in squares if readers[nodes[i].output[0]] or nodes[i].output[0] in outputs]
    if len(used) != 1:
        return None
    square = nodes[used[0]].output[0]
    if readers[square] != adds or sorted(nodes[adds[0]].input) != sorted([u, square]):
        return None
    return adds[0], [sines[0], *squares, adds[0]]
