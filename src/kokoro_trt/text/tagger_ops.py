"""spaCy's tagger with its matrix products on ONNX Runtime (MLAS) instead of cython-blis.

en_core_web_sm's tagger (a CNN over the tokens on thinc's NumPy ops) spends most of its time in six
matrix products a call, which thinc hands to cython-blis. Its wheels choose their kernels by CPU model
and run the generic C ones on a CPU they do not know (this AMD EPYC, Zen 4: ~26 GFLOP/s, 3-4x slower
than MLAS on one thread): over half of the tagger's time and a third of the G2P's, before every first
audio. NumPy's OpenBLAS would be as fast, but its pool spins ~0.1 s of a core after each call, on the
cores the duration pass that follows needs. Here each product is one ``Gemm`` run by a one-thread ONNX
Runtime session in the calling thread: no pool, nothing spinning, the same tags (docs/performance.md).

The ``Gemm`` graphs are written here as protobuf bytes: ``import onnx`` would add ~0.8 s to every load.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import onnxruntime as ort
from thinc.api import NumpyOps

_FLOAT = 1  # TensorProto.FLOAT
_INT = 2  # AttributeProto.INT
_IR_VERSION = 8
_OPSET = 13


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _message(field: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _matrix(name: str) -> bytes:
    """A ``ValueInfoProto``: a float matrix of any size (its dimensions named ``<name>0``, ``<name>1``)."""
    shape = b"".join(_message(1, _message(2, f"{name}{axis}")) for axis in (0, 1))
    return _message(1, name) + _message(2, _message(1, _int(1, _FLOAT) + _message(2, shape)))


def gemm_model(trans_a: bool, trans_b: bool) -> bytes:
    """An ONNX model computing ``z = op(x) @ op(y)``, ``op`` transposing where asked."""
    attributes = b"".join(
        _message(5, _message(1, name) + _int(3, int(flag)) + _int(20, _INT))
        for name, flag in (("transA", trans_a), ("transB", trans_b))
    )
    node = _message(1, "x") + _message(1, "y") + _message(2, "z") + _message(4, "Gemm") + attributes
    graph = (
        _message(1, node)
        + _message(2, "gemm")
        + _message(11, _matrix("x"))
        + _message(11, _matrix("y"))
        + _message(12, _matrix("z"))
    )
    return _int(1, _IR_VERSION) + _message(7, graph) + _message(8, _int(2, _OPSET))


@functools.cache
def _session(trans_a: bool, trans_b: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # runs in the caller's thread: no pool to wake or to leave spinning
    options.inter_op_num_threads = 1
    return ort.InferenceSession(gemm_model(trans_a, trans_b), options, providers=["CPUExecutionProvider"])


class MlasOps(NumpyOps):
    """thinc's NumPy ops with float32 ``gemm`` on ONNX Runtime (see the module's docstring)."""

    def gemm(self, x: Any, y: Any, *, out: Any = None, trans1: bool = False, trans2: bool = False) -> Any:
        if x.dtype != np.float32 or y.dtype != np.float32 or x.ndim != 2 or y.ndim != 2:
            return super().gemm(x, y, out=out, trans1=trans1, trans2=trans2)
        feeds = {"x": np.ascontiguousarray(x), "y": np.ascontiguousarray(y)}
        product = _session(bool(trans1), bool(trans2)).run(None, feeds)[0]
        if out is None:
            return product
        out[...] = product
        return out


def thinc_models(nlp: Any) -> list[Any]:
    """Every thinc model (each layer) of ``nlp``'s pipeline: what runs on an ops object."""
    models = (getattr(component, "model", None) for _, component in nlp.pipeline)
    return [node for model in models if model is not None for node in model.walk()]


def use_mlas(nlp: Any) -> None:
    """Run every thinc model of ``nlp``'s pipeline on :class:`MlasOps`."""
    ops = MlasOps()
    for node in thinc_models(nlp):
        node.ops = ops
