"""The decoder's long convolutions as a few large matrix products, for the CPU.

A 1-D convolution with a kernel of ``k`` taps over ``C`` channels costs ``2·C²·k`` flops a sample: for the
generator's kernel-7 and kernel-11 convolutions, the decoder's largest cost. :func:`spectral_convs` rewrites
each of them as a fast convolution by blocks (overlap-save): a transform takes every block of ``n`` input
samples to ``R`` terms in which the convolution is a few independent channel mixings, and an inverse gives
back the block's ``L = n - k + 1`` outputs. In ONNX ops that ONNX Runtime runs as matrix products:

1. the input is padded per channel and laid end to end, channel after channel, in segments of ``L``
   samples; a ``Conv`` with stride ``L`` applies the transform's ``R`` rows to every block of ``n``
   samples (a segment and the ``k - 1`` after it);
2. one batched ``MatMul`` mixes the channels of each of the transform's terms;
3. a ``MatMul`` by the inverse gives each block's ``L`` valid outputs, already in ``[C, time]`` order;
   the padding is dropped and the bias added (``SpectralJoin``).

Two transforms, chosen by the convolution's width:

- **The frequency domain**, a real DFT of 32 samples (``BLOCK``): ``R = 2F`` rows, cosines and sines of
  its ``F = 17`` frequencies, each frequency a complex ``C × C`` product (``8·C²`` flops). For the
  128-channel kernel-11 convolutions that is 3.5× fewer flops; on two Zen 4 cores they ran 1.6-1.8×
  faster, the whole decoder ~1.13× (docs/performance.md, tenth pass). It holds ``16·F·C²`` bytes of
  weights, 6.2× the convolution's: 18 MB for a 256-channel one, more than ``MAX_KERNEL_BYTES`` allows.
- **Winograd's minimal filtering** (Toom-Cook: a block's polynomial evaluated at ``n`` points, ``R = n``
  real terms, ``2·C²`` flops each) for the wider ones: the 256-channel kernel-7 and kernel-11
  convolutions, with ``L`` = 4 and 3 (``WINOGRAD``): 2.8× and 2.5× fewer flops for 1.4× and 1.2×
  the convolution's weights. Its rounding error grows with ``n``: on random data a kernel-7 convolution's
  output is within 7.5e-6 of its largest value, a kernel-11 one's within 7e-5 (the frequency domain's:
  3e-7); a whole script's audio is within 1.5e-5 (rms 2.6e-7, peaks 0.66) of the graph without them
  (docs/performance.md, nineteenth pass).

The narrower kernel-7 convolutions (128 channels, at six times the wider ones' sample rate) stay as they
are: in Winograd's blocks, whose intermediates are ``n/L`` times the input, a long script's peak resident
memory rose from 971 to 1,150 MB. Kernel 3 gained nothing.

A convolution dilated by ``d`` is the undilated one on each of the input's ``d`` phases (every ``d``-th
sample): the input is split into them (a ``Reshape`` and a ``Transpose``), the phases go through the steps
above as ``d`` sequences of each channel, and ``SpectralJoin`` interleaves the outputs back. The
generator's four 128-channel kernel-11 convolutions dilated by 3 and 5 ran 1.35-1.6× faster than in the
time domain (docs/performance.md, fourteenth pass).

``SpectralJoin`` is a custom op of the decoder's kernel library (:mod:`.snake_kernel`): one multi-threaded
pass where ONNX Runtime's own ops made two to four single-threaded copies (``Slice``, and for a dilated
convolution ``Transpose``, ``Reshape``, ``Slice``, then ``Add``; docs/performance.md, eighteenth pass). It
only moves samples and adds the bias. The decoder runs one utterance at a time (batch 1, fixed by its
inputs), which the flattening in step 1 relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from .snake_kernel import DOMAIN, JOIN_OP, add_domain

if TYPE_CHECKING:
    import onnx

BLOCK = 32
"""Samples a DFT block. A block spans its segment and part of the next, so ``k - 1 ≤ L``, i.e.
``k ≤ BLOCK/2 + 1``: 32 is the smallest power of two for kernel 11 (faster than 64 or 16, least memory)."""

MIN_KERNEL = 11
"""Shorter kernels stay out of the frequency domain (kernel 7 ran no faster in the whole decoder)."""

MAX_KERNEL_BYTES = 8 * 2**20
"""The most frequency-domain weights one rewritten convolution may hold (see the module's docstring)."""

WINOGRAD = {
    7: (4, ("0", "1", "-1", "1/2", "-1/2", "3", "-3", "4/5", "-4/5")),
    11: (3, ("0", "1", "-1", "1/2", "-1/2", "3/2", "-3/2", "3", "-3", "4/5", "-4/5", "-1/4")),
}
"""Winograd's blocks by kernel ``k``, for convolutions too wide for the frequency domain: the outputs ``L`` a
block yields and the ``n - 1 = L + k - 2`` points its polynomial is evaluated at (and infinity). More outputs
mean fewer flops and a larger rounding error (kernel 7 with 6 ran no faster). Of small numbers and their
reciprocals, these points gave the least float32 error on random data, half that of the first ones tried."""


@dataclass(frozen=True)
class _Conv:
    weight: np.ndarray  # [C, C, k]
    bias: np.ndarray | None  # [C]
    dilation: int = 1

    @property
    def channels(self) -> int:
        return self.weight.shape[0]

    @property
    def taps(self) -> int:
        return self.weight.shape[2]


@dataclass(frozen=True)
class _Transform:
    """A fast convolution by blocks: ``forward`` [R, n] takes a block of ``n`` samples to ``R`` terms,
    ``mixing`` [G, R/G·C, R/G·C] mixes the channels of each of ``G`` groups of terms, ``inverse`` [R, L]
    gives the block's ``L`` valid outputs."""

    forward: np.ndarray
    mixing: np.ndarray
    inverse: np.ndarray


def _method(channels: int, taps: int) -> Callable[[_Conv], _Transform] | None:
    """How a convolution of this width and kernel is rewritten (see the module's docstring), or ``None``."""
    if taps % 2 == 0:
        return None
    if 16 * (BLOCK // 2 + 1) * channels**2 <= MAX_KERNEL_BYTES:  # its frequency-domain weights fit
        return _dft if MIN_KERNEL <= taps <= BLOCK // 2 + 1 else None
    return _winograd if taps in WINOGRAD else None


def spectral_convs(model: onnx.ModelProto) -> int:
    """Rewrite ``model``'s long same-padded convolutions in place (see the module); returns how many."""
    from onnx import numpy_helper

    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    builder = _Builder()
    nodes: list[Any] = []
    count = 0
    for node in graph.node:
        eligible = _eligible(node, initializers)
        if eligible is None:
            nodes.append(node)
            continue
        nodes.extend(_spectral_nodes(node, *eligible, f"spectral_conv{count}/", builder))
        count += 1
    if count:
        del graph.node[:]
        graph.node.extend(nodes)
        graph.initializer.extend(numpy_helper.from_array(value, name) for name, value in builder.tensors.items())
        read = {name for node in graph.node for name in node.input} | {output.name for output in graph.output}
        kept = [tensor for tensor in graph.initializer if tensor.name in read]
        del graph.initializer[:]
        graph.initializer.extend(kept)
        add_domain(model)
    return count


def _eligible(node: Any, initializers: dict[str, Any]) -> tuple[_Conv, _Transform] | None:
    """A ``Conv`` this module rewrites, and how: square constant weights, odd k, stride 1, no groups, padded
    to keep its length, of a width and kernel :func:`_method` rewrites."""
    import onnx
    from onnx import helper, numpy_helper

    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in initializers:
        return None
    tensor = initializers[node.input[1]]  # shape and type first: most weights are never converted
    if len(tensor.dims) != 3 or tensor.dims[0] != tensor.dims[1] or tensor.data_type != onnx.TensorProto.FLOAT:
        return None
    method = _method(tensor.dims[0], tensor.dims[2])
    if method is None:
        return None
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    dilations = list(attributes.get("dilations", [1]))
    if len(dilations) != 1 or dilations[0] < 1:
        return None
    same = [dilations[0] * (tensor.dims[2] - 1) // 2] * 2
    if (
        attributes.get("group", 1) != 1
        or list(attributes.get("strides", [1])) != [1]
        or list(attributes.get("pads", [0, 0])) != same
        or attributes.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
    ):
        return None
    bias = None
    if len(node.input) > 2 and node.input[2]:
        if node.input[2] not in initializers:
            return None
        bias = numpy_helper.to_array(initializers[node.input[2]])
    conv = _Conv(numpy_helper.to_array(tensor), bias, dilations[0])
    return conv, method(conv)


class _Builder:
    """New initializers by name; small integer constants are shared by every rewritten node."""

    def __init__(self) -> None:
        self.tensors: dict[str, np.ndarray] = {}

    def add(self, name: str, value: np.ndarray) -> str:
        self.tensors[name] = value
        return name

    def ints(self, *values: int) -> str:
        name = "spectral_conv/ints_" + "_".join(str(v) for v in values).replace("-", "m")
        self.tensors.setdefault(name, np.array(values, dtype=np.int64))
        return name


def _dft(conv: _Conv) -> _Transform:
    """The real DFT of ``BLOCK`` samples: rows cos, −sin of each frequency; each frequency's complex product
    as a real ``2C × 2C`` one; each row's weight in the real inverse DFT of the ``L`` valid outputs."""
    frequencies = np.arange(BLOCK // 2 + 1)[:, None]
    angle = 2 * np.pi * frequencies * np.arange(BLOCK) / BLOCK
    forward = np.stack([np.cos(angle), -np.sin(angle)], axis=1).reshape(-1, BLOCK)
    # y[t] = Σ_j w_j x[t + j - pad] is a correlation: block by block, Y_f = conj(H_f) X_f.
    spectrum = np.fft.rfft(conv.weight.astype(np.float64), n=BLOCK, axis=-1).transpose(2, 0, 1)  # [F, C, C]
    real, imag = spectrum.real, -spectrum.imag  # conj(H) = real + i·imag
    mixing = np.block([[real, -imag], [imag, real]])  # [Yr; Yi] = [[Re, −Im], [Im, Re]] · [Xr; Xi]
    valid = np.arange(BLOCK - conv.taps + 1)
    weight = np.where((frequencies == 0) | (frequencies == BLOCK // 2), 1.0, 2.0) / BLOCK
    angle = 2 * np.pi * frequencies * valid / BLOCK
    inverse = np.stack([weight * np.cos(angle), -weight * np.sin(angle)], axis=1).reshape(-1, len(valid))
    return _Transform(forward, mixing, inverse)


def _winograd(conv: _Conv) -> _Transform:
    """Winograd's F(L, k) for a correlation: the Toom-Cook algorithm of a linear convolution, transposed.
    With ``V_j`` the [n, j] powers of the points (the row at infinity picks the highest power), a block
    ``x`` of ``n`` samples gives ``y = V_Lᵀ · ((V_k · w) ⊙ (V_n⁻ᵀ · x))``."""
    outputs, written = WINOGRAD[conv.taps]
    points = [Fraction(point) for point in written]

    def powers(columns: int) -> np.ndarray:
        finite = [[float(point**j) for j in range(columns)] for point in points]
        return np.array([*finite, [0.0] * (columns - 1) + [1.0]])

    mixing = np.einsum("ij,abj->iab", powers(conv.taps), conv.weight.astype(np.float64))  # [n, C, C]
    return _Transform(np.linalg.inv(powers(len(points) + 1)).T, mixing, powers(outputs))


def _spectral_nodes(node: Any, conv: _Conv, transform: _Transform, prefix: str, builder: _Builder) -> list[Any]:
    """The nodes computing ``node``'s output from its input as described in the module's docstring."""
    from onnx import helper

    channels, dilation, pad = conv.channels, conv.dilation, (conv.taps - 1) // 2
    (rows, block), groups, valid = transform.forward.shape, len(transform.mixing), transform.inverse.shape[1]
    spill = -(-block // valid) - 1  # segments a block reaches past its own
    bias = conv.bias if conv.bias is not None else np.zeros(channels)
    x, name = node.input[0], lambda suffix: prefix + suffix
    forward = builder.add(name("forward"), transform.forward[:, None, :].astype(np.float32))
    kernel = builder.add(name("kernel"), transform.mixing.astype(np.float32))
    inverse = builder.add(name("inverse"), transform.inverse.astype(np.float32))
    nodes = [helper.make_node("Shape", [x], [name("length")], start=2, end=3)]
    if dilation == 1:
        sequences, length = x, name("length")
    else:
        nodes += _phases(x, channels, dilation, name, builder)
        sequences, length = name("phases"), name("phase_length")
    leading = [0] * (2 if dilation == 1 else 3)  # the axes before time: no padding
    nodes += [
        # segments per sequence: ceil(T / L) + spill, so each sequence's blocks read only its own samples
        *_rounded_up(length, valid, name("segments"), name("after+"), builder, extra=spill),
        helper.make_node("Sub", [name("after+"), builder.ints(pad)], [name("after")]),
        helper.make_node("Concat", [builder.ints(*leading, pad, *leading), name("after")], [name("pads")], axis=0),
        helper.make_node("Pad", [sequences, name("pads")], [name("x_padded")]),
        helper.make_node("Reshape", [name("x_padded"), builder.ints(1, 1, -1)], [name("x_flat")]),
        helper.make_node(
            "Conv", [name("x_flat"), forward], [name("x_terms")], strides=[valid], pads=[0, spill * valid]
        ),
        helper.make_node(
            "Reshape", [name("x_terms"), builder.ints(groups, rows // groups * channels, -1)], [name("x_groups")]
        ),
        helper.make_node("MatMul", [kernel, name("x_groups")], [name("y_groups")]),
        helper.make_node("Reshape", [name("y_groups"), builder.ints(rows, -1)], [name("y_rows")]),
        helper.make_node("Transpose", [name("y_rows")], [name("y_columns")], perm=[1, 0]),  # folded into the MatMul
        helper.make_node("MatMul", [name("y_columns"), inverse], [name("y_blocks")]),
        helper.make_node(
            JOIN_OP,
            [
                name("y_blocks"),
                builder.add(name("bias"), bias.astype(np.float32)),
                name("length"),
                builder.ints(dilation),
            ],
            [node.output[0]],
            domain=DOMAIN,
        ),
    ]
    return nodes


def _phases(x: str, channels: int, dilation: int, name: Callable[[str], str], builder: _Builder) -> list[Any]:
    """Nodes splitting ``x`` [1, C, T] into its ``dilation`` phases, ``phases`` [1, C, d, n] with
    ``phase_length`` n = ceil(T / d) (zeros after the end): phase p holds x[p], x[p + d], …, so a convolution
    dilated by d is the undilated one on each phase, its outputs interleaved the same way."""
    from onnx import helper

    return [
        *_rounded_up(name("length"), dilation, name("phase_length"), name("tail"), builder),
        helper.make_node("Concat", [builder.ints(0, 0, 0, 0, 0), name("tail")], [name("tail_pads")], axis=0),
        helper.make_node("Pad", [x, name("tail_pads")], [name("x_whole")]),
        helper.make_node(
            "Concat",
            [builder.ints(1, channels), name("phase_length"), builder.ints(dilation)],
            [name("by_phase")],
            axis=0,
        ),
        helper.make_node("Reshape", [name("x_whole"), name("by_phase")], [name("x_by_phase")]),
        helper.make_node("Transpose", [name("x_by_phase")], [name("phases")], perm=[0, 1, 3, 2]),
    ]


def _rounded_up(length: str, multiple: int, count: str, rest: str, builder: _Builder, extra: int = 0) -> list[Any]:
    """Nodes computing ``count`` = ceil(length / multiple) + ``extra`` and ``rest`` = count · multiple − length,
    the zeros that pad ``length`` to whole multiples (``length`` a 1-element int64 tensor)."""
    from onnx import helper

    return [
        helper.make_node("Add", [length, builder.ints((extra + 1) * multiple - 1)], [count + "+"]),
        helper.make_node("Div", [count + "+", builder.ints(multiple)], [count]),
        helper.make_node("Mul", [count, builder.ints(multiple)], [count + "*"]),
        helper.make_node("Sub", [count + "*", length], [rest]),
    ]
