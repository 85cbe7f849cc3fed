"""The long convolutions rewritten into the frequency domain (``runtime/spectral_conv.py``)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from kokoro_trt.runtime import snake_kernel, spectral_conv
from kokoro_trt.runtime.backends.ort import session_options
from kokoro_trt.runtime.spectral_conv import spectral_convs

CHANNELS = 12
WIDE = 256
"""Channels too many for the frequency domain's weights: Winograd's blocks."""


def _conv_model(
    taps: int = 11,
    *,
    channels: tuple[int, int] = (CHANNELS, CHANNELS),
    bias: bool = True,
    weight_input: bool = False,
    **attributes,
) -> onnx.ModelProto:
    """x [1, C_in, L] → Conv (same padding unless ``pads`` says otherwise) → Relu → y."""
    rng = np.random.default_rng(taps)
    out_channels, in_channels = channels
    weight = (rng.standard_normal((out_channels, in_channels, taps)) / np.sqrt(in_channels * taps)).astype(np.float32)
    attributes.setdefault("pads", [(taps - 1) // 2] * 2)
    inputs = ["x", "w", "b"] if bias else ["x", "w"]
    nodes = [helper.make_node("Conv", inputs, ["c"], **attributes), helper.make_node("Relu", ["c"], ["y"])]
    initializers = [numpy_helper.from_array(rng.standard_normal(out_channels).astype(np.float32), "b")] if bias else []
    graph_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_channels, "L"])]
    if weight_input:
        graph_inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, list(weight.shape)))
    else:
        initializers.append(numpy_helper.from_array(weight, "w"))
    graph = helper.make_graph(
        nodes,
        "conv",
        graph_inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out_channels, "L"])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _session(model: onnx.ModelProto, threads: int = 2) -> ort.InferenceSession:
    """``model`` on ONNX Runtime CPU, with the kernel library when it uses the library's ops."""
    options = session_options(threads)
    if any(opset.domain == snake_kernel.DOMAIN for opset in model.opset_import):
        library = snake_kernel.snake_kernel_library()
        if library is None:
            pytest.skip("no C compiler here: the CPU decoder is not rewritten (tests/test_snake_kernel.py)")
        options.register_custom_ops_library(str(library))
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return _session(model).run(None, {"x": x})[0]


@pytest.mark.parametrize(
    ("taps", "channels", "terms", "valid", "tolerance"),
    [
        (11, CHANNELS, 2 * 17, spectral_conv.BLOCK - 10, 2e-6),  # the frequency domain: 17 complex products
        (13, CHANNELS, 2 * 17, spectral_conv.BLOCK - 12, 2e-6),
        (17, CHANNELS, 2 * 17, spectral_conv.BLOCK - 16, 2e-6),
        (7, WIDE, 10, 4, 2e-5),  # Winograd: 10 real products, 4 outputs a block (measured: up to 7.5e-6)
        (11, WIDE, 13, 3, 1.5e-4),  # up to 7e-5
    ],
    ids=["dft-11", "dft-13", "dft-17", "winograd-7", "winograd-11"],
)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dilation", [1, 2, 3, 5])
def test_the_rewrite_computes_the_convolution_at_every_length(
    taps, channels, terms, valid, tolerance, bias, dilation
) -> None:
    same = [dilation * (taps - 1) // 2] * 2
    stock = _conv_model(taps, channels=(channels, channels), bias=bias, dilations=[dilation], pads=same)
    rewritten = _conv_model(taps, channels=(channels, channels), bias=bias, dilations=[dilation], pads=same)
    assert spectral_convs(rewritten) == 1
    weights = {t.name: tuple(t.dims) for t in rewritten.graph.initializer}
    assert "w" not in weights  # the time-domain weights are gone
    assert weights["spectral_conv0/kernel"][0] * weights["spectral_conv0/kernel"][1] == terms * channels
    assert weights["spectral_conv0/inverse"] == (terms, valid)
    rng = np.random.default_rng(3)
    lengths = {1, taps // 2, valid - 1, valid, valid + 1, 2 * valid, taps + 1, 1000} - {0}
    lengths |= {dilation * n + r for n in (valid - 1, valid, 2 * valid) for r in range(dilation)}  # every phase count
    session, reference = _session(rewritten), _session(stock)
    for length in sorted(lengths):
        x = rng.standard_normal((1, channels, length)).astype(np.float32)
        expected, got = reference.run(None, {"x": x})[0], session.run(None, {"x": x})[0]
        assert got.shape == expected.shape == (1, channels, length)
        assert np.abs(got - expected).max() <= tolerance * max(1.0, float(np.abs(expected).max())), length


@pytest.mark.parametrize("taps", [7, 11])
def test_winograds_blocks_are_the_correlation_in_exact_arithmetic(taps) -> None:
    """The transforms themselves (float64): the error the test above allows is float32 rounding alone."""
    rng = np.random.default_rng(taps)
    weight = rng.standard_normal((3, 3, taps))
    outputs, points = spectral_conv.WINOGRAD[taps]
    assert len({Fraction(point) for point in points}) == outputs + taps - 2  # n - 1 distinct points, and infinity
    transform = spectral_conv._winograd(spectral_conv._Conv(weight, None))
    block = rng.standard_normal((3, outputs + taps - 1))
    terms = np.einsum("ij,cj->ic", transform.forward, block)  # [n, C]
    mixed = np.einsum("iab,ib->ia", transform.mixing, terms)  # [n, C]
    got = transform.inverse.T @ mixed  # [L, C]
    expected = np.stack([np.einsum("abj,bj->a", weight, block[:, t : t + taps]) for t in range(outputs)])
    assert np.abs(got - expected).max() <= 1e-9 * np.abs(expected).max()


def test_a_long_input_matches_to_float32_rounding() -> None:
    stock, rewritten = _conv_model(), _conv_model()
    spectral_convs(rewritten)
    x = (np.random.default_rng(5).standard_normal((1, CHANNELS, 48_000)) * 4).astype(np.float32)
    expected = _run(stock, x)
    assert np.abs(_run(rewritten, x) - expected).max() <= 1e-6 * float(np.abs(expected).max())


def _op_model(op: str, inputs: list[tuple[str, int, list]], output: str) -> onnx.ModelProto:
    """One node of the kernel library's ``op`` over graph inputs ``(name, type, shape)``."""
    graph = helper.make_graph(
        [helper.make_node(op, [name for name, _, _ in inputs], [output], domain=snake_kernel.DOMAIN)],
        op,
        [helper.make_tensor_value_info(name, kind, shape) for name, kind, shape in inputs],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid(snake_kernel.DOMAIN, 1)]
    return helper.make_model(graph, opset_imports=opsets)


@pytest.mark.parametrize("dilation", [1, 3, 5])
@pytest.mark.parametrize("length", [1, 22, 100, 1001])
@pytest.mark.parametrize("threads", [1, 2])
def test_join_interleaves_the_phases_and_adds_the_bias(dilation, length, threads) -> None:
    rng = np.random.default_rng(length)
    padded = (-(-length // dilation) // 22 + 2) * 22  # room past each phase's samples, as the padding leaves
    y = rng.standard_normal((4 * dilation * padded // 22, 22)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    model = _op_model(
        snake_kernel.JOIN_OP,
        [
            ("y", TensorProto.FLOAT, [None, 22]),
            ("b", TensorProto.FLOAT, [4]),
            ("t", TensorProto.INT64, [1]),
            ("d", TensorProto.INT64, [1]),
        ],
        "out",
    )
    feeds = {"y": y, "b": bias, "t": np.array([length]), "d": np.array([dilation])}
    got = _session(model, threads).run(None, feeds)[0]
    sequences = y.reshape(4, dilation, padded)
    t = np.arange(length)
    expected = sequences[:, t % dilation, t // dilation] + bias[:, None]
    assert got.shape == (1, 4, length)
    assert np.array_equal(got[0], expected)


@pytest.mark.parametrize(
    "model",
    [
        _conv_model(7),  # narrow, too short to gain
        _conv_model(19),  # a block of 32 holds fewer than its 18 samples of overlap twice
        _conv_model(12, pads=[5, 6]),  # even
        _conv_model(11, dilations=[3], pads=[5, 5]),  # dilated, but not padded to keep its length
        _conv_model(11, strides=[2]),
        _conv_model(11, pads=[0, 0]),  # shortens its input
        _conv_model(11, channels=(2 * CHANNELS, CHANNELS)),  # not square
        _conv_model(9, channels=(WIDE, WIDE)),  # too wide for the frequency domain, no Winograd blocks for 9
        _conv_model(11, weight_input=True),
    ],
    ids=[
        "kernel-7",
        "kernel-19",
        "even",
        "dilated-valid",
        "strided",
        "valid",
        "not-square",
        "wide-kernel-9",
        "weight-input",
    ],
)
def test_other_convolutions_are_left_as_they_are(model) -> None:
    before = model.SerializeToString()
    assert spectral_convs(model) == 0
    assert model.SerializeToString() == before
