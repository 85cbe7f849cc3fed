"""Exported graphs: engine-ready op inventory, dynamic axes, and parity with the torch stages."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from kokoro_trt.export.inventory import FORBIDDEN_OPS, inventory
from kokoro_trt.export.onnx_export import GRAPH_NAMES, SPECS
from tests.audio_metrics import relative_error
from tests.parity import onnx_sessions, run_onnx_and_torch, torch_stages
from tests.tiny_model import tiny_kmodel


def test_every_graph_is_engine_ready(tiny_graphs):
    for name in GRAPH_NAMES:
        found = inventory(tiny_graphs.path(name))
        assert found.problems == (), (name, found.problems)
        assert found.opset >= 17
        assert not set(found.ops) & FORBIDDEN_OPS
        expected = {value: tuple(axes.values()) for value, axes in SPECS[name].dynamic_axes.items()}
        assert found.dynamic_axes == expected, name


def _graph(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_inventory_flags_data_dependent_shapes(tmp_path):
    """A Reshape whose target shape is computed from input values is rejected; one from Shape() is not."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    counts = helper.make_tensor_value_info("counts", TensorProto.INT64, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    bad = _graph([helper.make_node("Reshape", ["x", "counts"], ["y"], name="r")], [x, counts], [y])
    good = _graph(
        [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Reshape", ["x", "s"], ["y"], name="r")], [x], [y]
    )
    onnx.save(bad, tmp_path / "bad.onnx")
    onnx.save(good, tmp_path / "good.onnx")
    assert any("Reshape 'r' takes its shape from data" in p for p in inventory(tmp_path / "bad.onnx").problems)
    assert inventory(tmp_path / "good.onnx").problems == ()


def test_inventory_flags_forbidden_ops(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, None)
    onnx.save(_graph([helper.make_node("NonZero", ["x"], ["y"])], [x], [y]), tmp_path / "nz.onnx")
    assert inventory(tmp_path / "nz.onnx").problems == ("forbidden op NonZero x1",)


@pytest.fixture(scope="module")
def stages():
    return torch_stages(tiny_kmodel())


@pytest.fixture(scope="module")
def sessions(tiny_graphs):
    return onnx_sessions(tiny_graphs)


@pytest.mark.parametrize("tokens", [8, 100, 512])
def test_onnx_runtime_matches_torch(tokens, stages, sessions):
    """Short, medium and full-context (510 phonemes + 2 boundary tokens) inputs.

    Audio is compared on the real weights (test_real_model.py): a random-weight decoder is chaotic
    in the source phase, so even torch against itself with F0 moved by 1e-6 differs by ~3 dB.
    """
    rng = np.random.default_rng(tokens)
    ids = np.array([[0, *rng.integers(1, 178, tokens - 2), 0]], dtype=np.int64)
    style = (rng.standard_normal((1, 256)) * 0.3).astype(np.float32)
    (durations, f0, n, audio), (ref_durations, ref_f0, ref_n, ref_audio) = run_onnx_and_torch(
        ids, style, stages, sessions
    )
    assert np.array_equal(durations, ref_durations)
    assert relative_error(f0, ref_f0) <= 1e-4
    assert relative_error(n, ref_n) <= 1e-4
    assert audio.shape == ref_audio.shape == (durations.sum() * 600,)


def test_shapes_follow_inputs_not_values(sessions):
    """Same input shapes, different values → same output shapes (nothing data-dependent)."""
    frames = 40
    shapes = set()
    for seed in range(3):
        rng = np.random.default_rng(seed)
        feeds = {
            "t_en": rng.standard_normal((1, 512, 10)).astype(np.float32),
            "frame_index": rng.integers(0, 10, frames),
            "f0": (rng.random((1, 2 * frames)) * 300).astype(np.float32),
            "n": rng.standard_normal((1, 2 * frames)).astype(np.float32),
            "style": rng.standard_normal((1, 256)).astype(np.float32),
            "noise": rng.standard_normal((1, 600 * frames)).astype(np.float32),
        }
        shapes.add(sessions["decoder"].run(None, feeds)[0].shape)
    assert shapes == {(600 * frames,)}
