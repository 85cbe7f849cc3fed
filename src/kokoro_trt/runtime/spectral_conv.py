"""The decoder's long convolutions as products in the frequency domain (overlap-save), for the CPU.

A 1-D convolution with a kernel of ``k`` taps over ``C`` channels costs ``2·C²·k`` flops a sample: for the
generator's kernel-11 convolutions, the decoder's largest cost. :func:`spectral_convs` rewrites each of
them into ONNX ops that ONNX Runtime runs as a few large matrix products:

1. the input is padded per channel and laid end to end, channel after channel, in segments of
   ``L = BLOCK - k + 1`` samples; a ``Conv`` with stride ``L`` takes the real DFT of every block of
   ``BLOCK`` samples (a segment and the ``k - 1`` after it): ``2F = BLOCK + 2`` rows, cosines and sines
   of the ``F = BLOCK/2 + 1`` frequencies;
2. one batched ``MatMul`` multiplies each frequency's ``C`` inputs by the ``C × C`` complex matrix of the
   kernel's DFT (as real matrices: ``8·C²`` flops a frequency);
3. a ``MatMul`` by the inverse DFT gives each block's ``L`` valid outputs (overlap-save), already in
   ``[C, time]`` order; the padding is dropped and the bias added (``SpectralJoin``).

That is ``8·C²·F/L`` flops a sample, 3.5× fewer for ``k = 11`` and ``BLOCK = 32``; measured on two
Zen 4 cores the rewritten convolutions ran 1.6-1.8× faster, the whole decoder ~1.13× (docs/performance.md,
tenth pass). The result matches the convolution to float32 rounding (~3e-7 of the output's range).

A convolution dilated by ``d`` is the undilated one on each of the input's ``d`` phases (every ``d``-th
sample): the input is split into them (a ``Reshape`` and a ``Transpose``), the phases go through the steps
above as ``d`` sequences of each channel, and ``SpectralJoin`` interleaves the outputs back. The
generator's four 128-channel kernel-11 convolutions dilated by 3 and 5 ran 1.35-1.6× faster than in the
time domain (docs/performance.md, fourteenth pass).

``SpectralJoin`` is a custom op of the decoder's kernel library (:mod:`.snake_kernel`): one multi-threaded
pass where ONNX Runtime's own ops made two to four single-threaded copies (``Slice``, and for a dilated
convolution ``Transpose``, ``Reshape``, ``Slice``, then ``Add``; docs/performance.md, eighteenth pass). It
only moves samples and adds the bias, so the audio is what those ops gave, bit for bit.

Only convolutions whose frequency-domain weights (``16·F·C²`` bytes) fit in ``MAX_KERNEL_BYTES`` are
rewritten: the generator's 128-channel ones (4.5 MB each, 0.7 MB before). The 256-channel ones would
hold 18 MB each; even with half that (real and imaginary parts apart) the four undilated ones took the
peak resident memory of a long script to 990-998 MB, too close to 1 GB for ~3% more speed. Kernel-7
convolutions gained too little in the whole decoder. The decoder runs one utterance at a time (batch 1,
fixed by its inputs), which the flattening in step 1 relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .snake_kernel import DOMAIN, JOIN_OP, add_domain

if TYPE_CHECKING:
    import onnx

BLOCK = 32
"""Samples a block (the DFT's length). A block spans its segment and part of the next, so ``k - 1 ≤ L``,
i.e. ``k ≤ BLOCK/2 + 1``: 32 is the smallest power of two for kernel 11 (faster than 64 or 16, least memory)."""

MIN_KERNEL = 11
"""Shorter kernels are left as they are (kernel 7 ran no faster in the whole decoder)."""

MAX_KERNEL_BYTES = 8 * 2**20
"""The most frequency-domain weights one rewritten convolution may hold (see the module's docstring)."""


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


def spectral_convs(model: onnx.ModelProto) -> int:
    """Rewrite ``model``'s long same-padded convolutions in place (see the module); returns how many."""
    from onnx import numpy_helper

    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    builder = _Builder()
    nodes: list[Any] = []
    count = 0
    for node in graph.node:
        conv = _eligible(node, initializers)
        if conv is None:
            nodes.append(node)
            continue
        nodes.extend(_spectral_nodes(node, conv, f"spectral_conv{count}/", builder))
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


def _eligible(node: Any, initializers: dict[str, Any]) -> _Conv | None:
    """A ``Conv`` this module rewrites: square constant weights within ``MAX_KERNEL_BYTES`` once transformed,
    ``MIN_KERNEL`` ≤ odd k ≤ ``BLOCK/2 + 1``, stride 1, no groups, padded to keep its length."""
    import onnx
    from onnx import helper, numpy_helper

    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in initializers:
        return None
    tensor = initializers[node.input[1]]  # shape and type first: most weights are never converted
    if len(tensor.dims) != 3 or tensor.dims[0] != tensor.dims[1] or tensor.data_type != onnx.TensorProto.FLOAT:
        return None
    channels, _, taps = tensor.dims
    if taps < MIN_KERNEL or taps % 2 == 0 or 2 * (taps - 1) > BLOCK:
        return None
    if 16 * (BLOCK // 2 + 1) * channels**2 > MAX_KERNEL_BYTES:
        return None
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    dilations = list(attributes.get("dilations", [1]))
    if len(dilations) != 1 or dilations[0] < 1:
        return None
    same = [dilations[0] * (taps - 1) // 2] * 2
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
    return _Conv(numpy_helper.to_array(tensor), bias, dilations[0])


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


def _dft_matrices(taps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forward rows [2F, BLOCK]: cos, −sin of each frequency; the inverse's cos and −sin parts [F, L],
    each a frequency's weight in the real inverse DFT of an ``L``-sample valid block)."""
    frequencies = np.arange(BLOCK // 2 + 1)[:, None]
    angle = 2 * np.pi * frequencies * np.arange(BLOCK) / BLOCK
    forward = np.stack([np.cos(angle), -np.sin(angle)], axis=1).reshape(-1, BLOCK)
    valid = np.arange(BLOCK - taps + 1)
    weight = np.where((frequencies == 0) | (frequencies == BLOCK // 2), 1.0, 2.0) / BLOCK
    angle = 2 * np.pi * frequencies * valid / BLOCK
    return forward, weight * np.cos(angle), -weight * np.sin(angle)


def _spectral_nodes(node: Any, conv: _Conv, prefix: str, builder: _Builder) -> list[Any]:
    """The nodes computing ``node``'s output from its input as described in the module's docstring."""
    from onnx import helper

    channels, taps, dilation = conv.channels, conv.taps, conv.dilation
    frequencies, valid, pad = BLOCK // 2 + 1, BLOCK - taps + 1, (taps - 1) // 2
    # y[t] = Σ_j w_j x[t + j - pad] is a correlation: block by block, Y_f = conj(H_f) X_f.
    spectrum = np.fft.rfft(conv.weight.astype(np.float64), n=BLOCK, axis=-1).transpose(2, 0, 1)  # [F, C, C]
    real, imag = spectrum.real, -spectrum.imag  # conj(H) = real + i·imag
    forward, cosines, sines = _dft_matrices(taps)
    # [Yr; Yi] = [[Re, −Im], [Im, Re]] · [Xr; Xi] at each frequency
    mixing = np.block([[real, -imag], [imag, real]])  # [F, 2C, 2C]
    inverse = np.stack([cosines, sines], axis=1).reshape(2 * frequencies, valid)
    bias = conv.bias if conv.bias is not None else np.zeros(channels)
    x, name = node.input[0], lambda suffix: prefix + suffix
    dft = builder.add(name("dft"), forward[:, None, :].astype(np.float32))
    kernel = builder.add(name("kernel"), mixing.astype(np.float32))
    idft = builder.add(name("idft"), inverse.astype(np.float32))
    nodes = [helper.make_node("Shape", [x], [name("length")], start=2, end=3)]
    if dilation == 1:
        sequences, length = x, name("length")
    else:
        nodes += _phases(x, channels, dilation, name, builder)
        sequences, length = name("phases"), name("phase_length")
    leading = [0] * (2 if dilation == 1 else 3)  # the axes before time: no padding
    nodes += [
        # blocks per sequence: ceil(n / L) + 1, so each sequence's segments end with a block of its own
        *_rounded_up(length, valid, name("segments"), name("after+"), builder, extra=1),
        helper.make_node("Sub", [name("after+"), builder.ints(pad)], [name("after")]),
        helper.make_node("Concat", [builder.ints(*leading, pad, *leading), name("after")], [name("pads")], axis=0),
        helper.make_node("Pad", [sequences, name("pads")], [name("x_padded")]),
        helper.make_node("Reshape", [name("x_padded"), builder.ints(1, 1, -1)], [name("x_flat")]),
        helper.make_node("Conv", [name("x_flat"), dft], [name("x_dft")], strides=[valid], pads=[0, valid]),
        helper.make_node("Reshape", [name("x_dft"), builder.ints(frequencies, 2 * channels, -1)], [name("x_spectra")]),
        helper.make_node("MatMul", [kernel, name("x_spectra")], [name("y_spectra")]),
        helper.make_node("Reshape", [name("y_spectra"), builder.ints(2 * frequencies, -1)], [name("y_rows")]),
        helper.make_node("Transpose", [name("y_rows")], [name("y_columns")], perm=[1, 0]),  # folded into the MatMul
        helper.make_node("MatMul", [name("y_columns"), idft], [name("y_blocks")]),
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
