"""The fused Snake kernel (``runtime/snake_kernel.c``) and the decoder graph that uses it."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from kokoro_trt.graphs import GraphSet
from kokoro_trt.runtime import load_kokoro, snake_kernel
from kokoro_trt.runtime.backends.ort import session_options
from kokoro_trt.runtime.cpu_decoder import cpu_decoder
from kokoro_trt.runtime.snake_graph import fuse_snakes

CHANNELS = 6


@pytest.fixture(scope="module")
def library():
    path = snake_kernel.snake_kernel_library()
    if path is None:
        pytest.skip("no C compiler here: the stock decoder runs (tested below)")
    return path


def _snake_model(*, fused: bool, epsilon: float = 1e-5, extra_reader: bool = False, shape=(1, CHANNELS, "L")) -> bytes:
    """[1, C, L] → InstanceNormalization → Sin → Mul(s, s) → Add(u, ·), or the one fused node."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    scale = helper.make_tensor_value_info("scale", TensorProto.FLOAT, [CHANNELS])
    bias = helper.make_tensor_value_info("bias", TensorProto.FLOAT, [CHANNELS])
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))]
    if fused:
        nodes = [helper.make_node("AdaSnake", ["x", "scale", "bias"], ["y"], domain="kokoro_trt")]
    else:
        nodes = [
            helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["u"], epsilon=epsilon),
            helper.make_node("Sin", ["u"], ["s"]),
            helper.make_node("Mul", ["s", "s"], ["m"]),
            helper.make_node("Mul", ["s", "s"], ["unused"]),  # torch's trace leaves such duplicates
            helper.make_node("Add", ["u", "m"], ["y"]),
        ]
        if extra_reader:
            nodes.append(helper.make_node("Neg", ["s"], ["minus_s"]))
            outputs.append(helper.make_tensor_value_info("minus_s", TensorProto.FLOAT, [1, CHANNELS, "L"]))
    graph = helper.make_graph(nodes, "snake", [x, scale, bias], outputs)
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("kokoro_trt", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def _session(model: bytes, library=None, threads: int = 2) -> ort.InferenceSession:
    options = session_options(threads)
    if library is not None:
        options.register_custom_ops_library(str(library))
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _inputs(length: int = 20_000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, CHANNELS, length)).astype(np.float32) * 3 + 1
    x[0, 3] = 2.5  # a constant row: variance 0
    scale = np.array([1.0, -2.5, 8.0, 0.5, 3.0, 1e4], dtype=np.float32)  # the last row leaves the polynomial's range
    bias = np.array([0.0, 1.0, -4.0, 0.25, 2.0, 50.0], dtype=np.float32)
    return {"x": x, "scale": scale, "bias": bias}


def _exact(feeds: dict[str, np.ndarray]) -> np.ndarray:
    x = feeds["x"].astype(np.float64)
    rows = x.reshape(*x.shape[:2], -1)
    mean, var = rows.mean(-1, keepdims=True), rows.var(-1, keepdims=True)
    u = feeds["scale"][:, None] * (rows - mean) / np.sqrt(var + 1e-5) + feeds["bias"][:, None]
    return (u + np.sin(u) ** 2).reshape(x.shape)


def test_the_kernel_computes_instance_norm_and_snake_closer_than_the_stock_ops(library) -> None:
    feeds = _inputs()
    exact = _exact(feeds)
    fused = _session(_snake_model(fused=True), library).run(None, feeds)[0]
    stock = _session(_snake_model(fused=False)).run(None, feeds)[0]
    size = np.abs(exact).max(axis=-1, keepdims=True)  # float32 holds u to ~6e-8 of the row's largest |u|
    fused_error = np.abs(fused - exact) / size
    stock_error = np.abs(stock[:, :5] - exact[:, :5]) / size[:, :5]
    assert fused_error.max() < 1e-6
    assert fused_error[:, :5].max() <= stock_error.max()


def test_the_kernel_normalises_each_row_of_a_batch_of_any_rank(library) -> None:
    shape = (2, CHANNELS, 5, 7)
    rng = np.random.default_rng(1)
    feeds = {**_inputs(), "x": rng.standard_normal(shape).astype(np.float32)}
    fused = _session(_snake_model(fused=True, shape=shape), library).run(None, feeds)[0]
    exact = _exact(feeds)
    assert np.abs(fused - exact).max() <= 1e-6 * np.abs(exact).max()


def test_the_kernel_gives_the_same_samples_on_any_thread_count(library) -> None:
    feeds = _inputs(50_001)
    model = _snake_model(fused=True)
    runs = [_session(model, library, threads).run(None, feeds)[0] for threads in (1, 2, 3)]
    assert all(np.array_equal(runs[0], run) for run in runs[1:])


def test_the_kernel_passes_nan_through_and_handles_empty_rows(library) -> None:
    session = _session(_snake_model(fused=True), library)
    feeds = _inputs(64)
    feeds["x"][0, 1, 5] = np.nan
    out = session.run(None, feeds)[0]
    assert np.isnan(out[0, 1]).all() and np.isfinite(out[0, [0, 2, 3, 4, 5]]).all()
    empty = {**feeds, "x": np.zeros((1, CHANNELS, 0), np.float32)}
    assert session.run(None, empty)[0].shape == (1, CHANNELS, 0)


def test_fuse_snakes_rewrites_the_pattern_and_nothing_else() -> None:
    import onnx

    fused = onnx.load_from_string(_snake_model(fused=False))
    assert fuse_snakes(fused) == 1
    assert [n.op_type for n in fused.graph.node] == ["AdaSnake"]
    for other in (_snake_model(fused=False, epsilon=1e-3), _snake_model(fused=False, extra_reader=True)):
        model = onnx.load_from_string(other)
        assert fuse_snakes(model) == 0
        assert "AdaSnake" not in {n.op_type for n in model.graph.node}


def test_the_fused_decoder_speaks_as_the_stock_one(library, tiny_graphs, tmp_path) -> None:
    graphs = _copy(tiny_graphs, tmp_path)
    stock_path = graphs.path("decoder")
    path = cpu_decoder(graphs)
    assert path is not None and path.name == "decoder-cpu.onnx"
    record = json.loads((graphs.directory / "decoder-cpu.json").read_text())
    sines = sum(n.op_type == "Sin" for n in _nodes(stock_path))
    assert record["fused"] == sum(n.op_type == "AdaSnake" for n in _nodes(path)) > 0
    assert _convolutions(stock_path, 11) > _convolutions(stock_path, 11, 1)
    assert _convolutions(path, 11) == 0  # the dilated ones too
    assert _convolutions(stock_path, 7) > _convolutions(path, 7)  # the 256-channel ones, in Winograd's blocks
    assert record["spectral"] == _convolutions(stock_path, 11) + _convolutions(stock_path, 7) - _convolutions(path, 7)
    assert sines - record["fused"] == sum(n.op_type == "Sin" for n in _nodes(path))  # the harmonic source keeps its own
    feeds = _decoder_feeds(graphs)
    stock = _session(stock_path.read_bytes()).run(None, feeds)[0]
    fused = _session(path.read_bytes(), library).run(None, feeds)[0]
    assert np.abs(fused - stock).max() <= 1e-4 * max(1.0, float(np.abs(stock).max()))


def test_a_damaged_or_stale_fused_decoder_is_written_again(library, tiny_graphs, tmp_path, caplog) -> None:
    graphs = _copy(tiny_graphs, tmp_path)
    path = cpu_decoder(graphs)
    good = path.read_bytes()
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with caplog.at_level(logging.WARNING):
        assert cpu_decoder(graphs) == path
    assert "no longer matches" in caplog.text
    assert path.read_bytes() == good
    record_path = graphs.directory / "decoder-cpu.json"
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**record, "source_sha256": "0" * 64}))
    mtime = path.stat().st_mtime_ns
    assert cpu_decoder(graphs) == path and path.stat().st_mtime_ns != mtime
    assert json.loads(record_path.read_text())["source_sha256"] == record["source_sha256"]


def test_writing_the_cpu_decoder_removes_its_former_snake_only_files(library, tiny_graphs, tmp_path) -> None:
    graphs = _copy(tiny_graphs, tmp_path)
    former = [
        graphs.directory / name for name in ("decoder-snake.onnx", "decoder-snake.json", "verified-decoder-snake.json")
    ]
    for path in former:
        path.write_bytes(b"213 MB once")
    assert cpu_decoder(graphs) is not None
    assert not any(path.exists() for path in former)
    assert graphs.path("decoder").is_file()


def test_the_cpu_backend_runs_the_fused_decoder_and_the_stock_one_without_a_compiler(
    library, tiny_graphs, voices_dir, tmp_path, monkeypatch
) -> None:
    graphs = _copy(tiny_graphs, tmp_path)
    fused = load_kokoro("cpu", graphs=graphs.directory, voices_dir=voices_dir)
    assert fused.backend.fused_snake
    with_kernel = fused.synthesize("The kernel is only faster.", "af_heart", seed=3)
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("KOKORO_TRT_CACHE", str(tmp_path / "empty-cache"))
    snake_kernel.snake_kernel_library.cache_clear()
    try:
        stock = load_kokoro("cpu", graphs=graphs.directory, voices_dir=voices_dir)
        assert not stock.backend.fused_snake
        without = stock.synthesize("The kernel is only faster.", "af_heart", seed=3)
    finally:
        snake_kernel.snake_kernel_library.cache_clear()
    assert without.shape == with_kernel.shape
    assert np.abs(without - with_kernel).max() <= 1e-4


def test_a_library_that_does_not_load_leaves_the_stock_decoder(tiny_graphs, tmp_path, monkeypatch, caplog) -> None:
    from kokoro_trt.runtime.backends import ort as ort_backend

    bogus = tmp_path / "not-a-library.so"
    bogus.write_bytes(b"not an ELF file")
    graphs = _copy(tiny_graphs, tmp_path)
    monkeypatch.setattr(ort_backend, "fused_cpu_decoder", lambda graphs, stock: (cpu_decoder(graphs, stock), bogus))
    with caplog.at_level(logging.WARNING):
        backend = ort_backend.OnnxRuntimeBackend(graphs, device="cpu")
    assert not backend.fused_snake
    assert "the fused decoder did not load" in caplog.text
    assert backend.sessions["decoder"].get_inputs()[0].name == "t_en"


def test_kokoro_trt_export_writes_the_fused_decoder(tiny_graphs, tmp_path, monkeypatch) -> None:
    from kokoro_trt.cli import main
    from kokoro_trt.export import pipeline

    graphs = _copy(tiny_graphs, tmp_path)
    monkeypatch.setattr(pipeline, "export_model", lambda *a, **k: graphs)
    assert main(["export"]) == 0
    assert (graphs.directory / "decoder-cpu.onnx").is_file()  # for installs that run graphs without onnx


def test_a_compiler_without_march_native_builds_the_portable_kernel(tmp_path, monkeypatch) -> None:
    real = snake_kernel._compiler()
    if real is None:
        pytest.skip("no C compiler here")
    wrapper = tmp_path / "cc-without-native"
    wrapper.write_text(f'#!/bin/sh\nfor a in "$@"; do [ "$a" = -march=native ] && exit 1; done\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CC", str(wrapper))
    monkeypatch.setenv("KOKORO_TRT_CACHE", str(tmp_path / "cache"))
    snake_kernel.snake_kernel_library.cache_clear()
    try:
        library = snake_kernel.snake_kernel_library()
    finally:
        snake_kernel.snake_kernel_library.cache_clear()
    assert library is not None and library.is_relative_to(tmp_path / "cache")
    feeds = _inputs(1000)
    out = _session(_snake_model(fused=True), library).run(None, feeds)[0]
    exact = _exact(feeds)
    assert np.abs(out - exact).max() <= 1e-6 * np.abs(exact).max()


def test_the_switch_turns_the_kernel_off(monkeypatch) -> None:
    monkeypatch.setenv(snake_kernel.ENV_SWITCH, "0")
    snake_kernel.snake_kernel_library.cache_clear()
    try:
        assert snake_kernel.snake_kernel_library() is None
    finally:
        snake_kernel.snake_kernel_library.cache_clear()


def _copy(graphs: GraphSet, tmp_path) -> GraphSet:
    """A private copy of the tiny graph set (without any CPU decoder), for tests that write into it."""
    target = tmp_path / "graphs"
    target.mkdir()
    for path in graphs.directory.iterdir():
        if path.is_file() and "-cpu" not in path.name:
            shutil.copy(path, target / path.name)
    return GraphSet.load(target)


def _nodes(path):
    import onnx

    return onnx.load(str(path), load_external_data=False).graph.node


def _convolutions(path, taps: int, dilation: int | None = None) -> int:
    """How many ``Conv`` nodes of the graph at ``path`` have a constant weight of ``taps`` taps (and this
    ``dilation``, if given)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    widths = {t.name: t.dims[-1] for t in graph.initializer}
    return sum(
        node.op_type == "Conv"
        and widths.get(node.input[1]) == taps
        and (dilation is None or all(a.name != "dilations" or list(a.ints) == [dilation] for a in node.attribute))
        for node in graph.node
    )


def _decoder_feeds(graphs: GraphSet) -> dict[str, np.ndarray]:
    widths = {i.name: i.shape for i in _session(graphs.path("decoder").read_bytes()).get_inputs()}
    rng = np.random.default_rng(0)
    frames, tokens = 30, 10
    return {
        "t_en": rng.standard_normal((1, widths["t_en"][1], tokens)).astype(np.float32),
        "frame_index": np.sort(rng.integers(0, tokens, frames)).astype(np.int64),
        "f0": (150 + 20 * rng.standard_normal((1, 2 * frames))).astype(np.float32),
        "n": rng.standard_normal((1, 2 * frames)).astype(np.float32),
        "style": (rng.standard_normal((1, widths["style"][1])) * 0.1).astype(np.float32),
        "noise": rng.standard_normal((1, graphs.samples_per_frame * frames)).astype(np.float32),
    }
