"""The opt-in INT8 decoder on the tiny random-weight model: what the quantiser writes and records, how a
damaged or stale graph is refused or rebuilt, and ``load_kokoro(precision="int8")``.

Quality on the real weights: ``tests/test_int8_real.py``.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kokoro_trt.errors import BackendUnavailableError, CorruptFileError, InvalidInputError, ModelNotFoundError
from kokoro_trt.graphs import MANIFEST_NAME, GraphSet
from kokoro_trt.runtime import int8
from kokoro_trt.storage import sha256_file

onnx = pytest.importorskip("onnx", reason="quantising needs the export extra")

TINY_RECIPE = replace(int8.PRODUCT_RECIPE, sentences=("Why not?", "The library opens at nine."))
"""The product recipe calibrated on two short sentences (one per calibration voice), to keep CI short."""


def linked_copy(graphs: GraphSet, directory: Path) -> GraphSet:
    """A graph folder whose FP32 graphs link to ``graphs``' and whose manifest is its own copy."""
    directory.mkdir(parents=True)
    for stage in ("duration", "prosody", "decoder"):
        (directory / graphs.path(stage).name).symlink_to(graphs.path(stage))
    shutil.copy(graphs.directory / MANIFEST_NAME, directory / MANIFEST_NAME)
    return GraphSet.load(directory)


@pytest.fixture(scope="module")
def int8_graphs(tiny_graphs, tmp_path_factory) -> GraphSet:
    """A folder of the tiny FP32 graphs, with no INT8 decoder until :func:`int8_model` loads."""
    return linked_copy(tiny_graphs, tmp_path_factory.mktemp("int8") / "graphs")


@pytest.fixture(scope="module")
def int8_model(int8_graphs, voices_dir):
    """``load_kokoro(precision="int8")`` on a folder without an INT8 decoder: it quantises on demand
    (with :data:`TINY_RECIPE` standing in for the product recipe)."""
    from kokoro_trt.runtime import load_kokoro

    assert not (int8_graphs.directory / int8.INT8_FILE).exists()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(int8, "PRODUCT_RECIPE", TINY_RECIPE)
        return load_kokoro("cpu", graphs=int8_graphs.directory, voices_dir=voices_dir, precision="int8")


@pytest.fixture(scope="module")
def built(int8_model, int8_graphs) -> GraphSet:
    """The folder's graph set once the INT8 decoder is built and recorded."""
    return GraphSet.load(int8_graphs.directory)


def _producers(graph) -> dict[str, str]:
    return {out: node.op_type for node in graph.node for out in node.output}


def test_quantised_graph_has_qdq_convs_and_fp32_where_the_recipe_says(built):
    graph = onnx.load(str(built.directory / int8.INT8_FILE)).graph
    producer = _producers(graph)
    consumers: dict[str, list[str]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.op_type)
    convs = [node for node in graph.node if node.op_type == "Conv"]
    kept = set(TINY_RECIPE.fp32_nodes(node.name for node in convs))
    assert kept >= {"/Conv", "/conv_post/Conv", "/noise_convs.0/Conv", "/noise_res.1/Conv"}  # the recipe's layout
    assert len(kept) == 12 and len(convs) == 46  # tiny decoder: 3 always + noise_convs 2 + noise_res.1 6 + conv_post
    for node in convs:
        activation, weight = (producer.get(name) for name in node.input[:2])
        if node.name in kept:
            assert activation != "DequantizeLinear" and weight is None, node.name  # weight an FP32 initializer
        else:
            assert activation == weight == "DequantizeLinear", node.name
            assert "QuantizeLinear" in consumers[node.output[0]], node.name
    # no other op was quantised: the upsamplers' and AdaIN Gemms' weights stay FP32 initializers
    others = [n for n in graph.node if n.op_type in ("ConvTranspose", "Gemm")]
    assert len(others) > 10 and all(producer.get(n.input[1]) is None for n in others)


def test_the_manifest_records_the_int8_decoder(built, tiny_graphs):
    entry = built.manifest[int8.INT8_ENTRY]
    path = built.directory / entry["file"]
    assert entry["file"] == int8.INT8_FILE and entry["sha256"] == sha256_file(path)
    assert entry["source_sha256"] == tiny_graphs.manifest["graphs"]["decoder"]["sha256"]
    assert entry["recipe"]["sha256"] == TINY_RECIPE.identity != int8.PRODUCT_RECIPE.identity
    assert entry["calibration"]["voices"] == ["af_heart", "am_michael"] and entry["calibration"]["inputs"] == 2
    assert entry["convs"] == {"int8": 34, "fp32": 12} == int8.conv_precision(path)
    assert int8.check_int8_decoder(built, TINY_RECIPE) == path
    # the FP32 stages are untouched: the manifest's other records are the export's
    assert built.manifest["graphs"] == tiny_graphs.manifest["graphs"]


def test_the_recipe_identity_covers_every_field_but_the_note_and_the_code(monkeypatch):
    base = int8.PRODUCT_RECIPE
    assert replace(base, note="renamed").identity == base.identity
    changed = [
        replace(base, activations="S8"),
        replace(base, calibration="Entropy"),
        replace(base, keep_fp32=base.keep_fp32[:-1]),
        replace(base, percentile=99.999),
        replace(base, sentences=base.sentences[:1]),
        replace(base, voices=("af_heart",)),
        replace(base, seed=1),
    ]
    assert len({recipe.identity for recipe in changed} - {base.identity}) == len(changed)
    before = base.identity
    monkeypatch.setattr(int8, "code_sha256", lambda: "0" * 64)  # the quantiser's code changed
    assert base.identity != before


def test_a_stale_int8_decoder_is_refused(built):
    with pytest.raises(ModelNotFoundError, match="another quantisation recipe.*kokoro-trt export --int8"):
        int8.check_int8_decoder(built)  # the product recipe
    entry = {**built.manifest[int8.INT8_ENTRY], "source_sha256": "0" * 64}
    other_source = GraphSet(built.directory, {**built.manifest, int8.INT8_ENTRY: entry})
    with pytest.raises(ModelNotFoundError, match="another FP32 decoder"):
        int8.check_int8_decoder(other_source, TINY_RECIPE)
    unbuilt = GraphSet(built.directory, {k: v for k, v in built.manifest.items() if k != "int8"})
    with pytest.raises(ModelNotFoundError, match="none has been built"):
        int8.check_int8_decoder(unbuilt, TINY_RECIPE)


def test_a_damaged_int8_decoder_is_refused_without_the_exporter_and_rebuilt_with_it(
    built, tmp_path, monkeypatch, voices_dir
):
    graphs = linked_copy(built, tmp_path / "graphs")
    original = built.directory / int8.INT8_FILE
    damaged = tmp_path / "graphs" / int8.INT8_FILE
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights: the graph would still load
    damaged.write_bytes(bytes(data))
    with monkeypatch.context() as no_exporter:
        no_exporter.setitem(sys.modules, "onnx", None)  # as without kokoro-trt[export]
        with pytest.raises(CorruptFileError, match="damaged.*kokoro-trt export --int8") as error:
            int8.ensure_int8_decoder(graphs, TINY_RECIPE, voices_dir=voices_dir, progress=False)
        assert error.value.paths == (str(damaged),)
        with pytest.raises(ModelNotFoundError, match="another quantisation recipe.*kokoro-trt export --int8"):
            int8.ensure_int8_decoder(graphs, voices_dir=voices_dir, progress=False)  # stale: never used
    rebuilds: list[Path] = []

    def rebuild(graphs: GraphSet, recipe, model, progress) -> Path:  # int8_model's fixture ran the real one
        assert not damaged.exists() and recipe == TINY_RECIPE
        rebuilds.append(shutil.copy(original, damaged))
        return damaged

    monkeypatch.setattr(int8, "_build", rebuild)
    model = object()  # no model is loaded to calibrate when one is given
    assert int8.ensure_int8_decoder(graphs, TINY_RECIPE, model=model, progress=False) == damaged
    assert len(rebuilds) == 1 and damaged.with_name(damaged.name + ".corrupt").is_file()  # moved aside, rebuilt


def test_calibration_falls_back_to_the_embedded_voice_when_no_stock_voice_is_found():
    from types import SimpleNamespace

    from kokoro_trt.voices.embedded import load_embedded

    fallback = load_embedded("jf_alpha").reshape(-1, 256)
    other = np.ones_like(fallback)

    class Store:  # as offline without a voices folder: af_heart falls back, the others are nowhere
        def __init__(self, found: dict[str, np.ndarray]) -> None:
            self.found = found

        def pack(self, name: str) -> np.ndarray:
            if name in self.found:
                return self.found[name]
            raise ModelNotFoundError(name)

    offline = SimpleNamespace(voices=Store({"af_heart": fallback}))
    assert int8.calibration_voices(offline, ("af_heart", "am_michael")) == (
        ("af_heart",),
        ["jf_alpha (embedded fallback)"],
    )
    some = SimpleNamespace(voices=Store({"af_heart": fallback, "am_michael": other}))
    assert int8.calibration_voices(some, ("af_heart", "am_michael")) == (("am_michael",), ["am_michael"])


def test_int8_audio_is_finite_bounded_and_deterministic(int8_model, tiny_model):
    assert int8_model.backend.name == "onnxruntime-cpu-int8"
    text = "Hello there, how are you today?"
    first = int8_model.synthesize(text, "af_heart", seed=3)
    again = int8_model.synthesize(text, "af_heart", seed=3)
    fp32 = tiny_model.synthesize(text, "af_heart", seed=3)
    assert first.dtype == np.float32 and first.size == fp32.size > 0
    assert np.isfinite(first).all() and np.abs(first).max() <= 1.0
    assert np.array_equal(first, again)
    assert not np.array_equal(first, fp32)  # the INT8 decoder ran, not the FP32 one
    assert not np.array_equal(int8_model.synthesize(text, "af_heart", seed=4), first)


def test_int8_loads_a_current_graph_without_quantising(built, voices_dir, monkeypatch):
    from kokoro_trt.runtime import load_kokoro

    monkeypatch.setattr(int8, "PRODUCT_RECIPE", TINY_RECIPE)
    monkeypatch.setattr(int8, "_build", lambda *a, **k: pytest.fail("quantised again"))
    model = load_kokoro("cpu", graphs=built.directory, voices_dir=voices_dir, precision="int8")
    assert model.backend.name == "onnxruntime-cpu-int8"


@pytest.mark.parametrize(
    ("device", "precision", "message"),
    [
        ("cpu", "fp16", "precision must be one of fp32, int8"),
        ("auto", "INT8", "precision must be one of"),
        ("cuda", "int8", "CPU only"),
        ("cuda:1", "int8", "CPU only"),
    ],
)
def test_bad_precision_or_device_fails_before_any_work(device, precision, message, tmp_path):
    from kokoro_trt.runtime import load_kokoro

    with pytest.raises(InvalidInputError, match=message):  # not ModelNotFoundError for the absent graphs
        load_kokoro(device, graphs=tmp_path / "absent", precision=precision)


def test_the_int8_backend_refuses_a_gpu(tiny_graphs, tmp_path):
    from kokoro_trt.runtime.backends.ort import OnnxRuntimeBackend

    with pytest.raises(BackendUnavailableError, match="CPU only"):
        OnnxRuntimeBackend(tiny_graphs, device="cuda", int8_decoder=tmp_path / "decoder-int8.onnx")


def test_the_command_line_passes_precision_and_int8(tiny_graphs, tmp_path, monkeypatch, capsys):
    from kokoro_trt import server
    from kokoro_trt.cli import main
    from kokoro_trt.export import pipeline

    quantised: list[dict] = []
    monkeypatch.setattr(pipeline, "export_model", lambda *a, **k: tiny_graphs)
    monkeypatch.setattr(int8, "ensure_int8_decoder", lambda graphs, **k: quantised.append(k) or Path("int8.onnx"))
    assert main(["export", "--int8", "--force", "--voices-dir", "v"]) == 0
    assert quantised == [{"force": True, "voices_dir": "v"}]
    assert main(["export"]) == 0 and len(quantised) == 1  # no --int8: nothing quantised

    assert main(["speak", "Hi.", "--device", "cuda", "--precision", "int8", "--graphs", str(tmp_path)]) == 2
    assert "CPU only" in capsys.readouterr().err

    calls: list[dict] = []
    monkeypatch.setattr(server, "serve", lambda **given: calls.append(given))
    assert main(["serve", "--precision", "int8"]) == 0 and calls == [{"precision": "int8"}]
    assert server.model_loader(server.Settings(**calls[0])).keywords["precision"] == "int8"
    assert server.model_loader(server.Settings()).keywords["precision"] == "fp32"
    with pytest.raises(ValueError, match="precision"):
        server.Settings(precision="int4")


def test_the_manifest_file_on_disk_is_valid_json_with_the_record(built):
    manifest = json.loads((built.directory / MANIFEST_NAME).read_text())
    assert manifest[int8.INT8_ENTRY]["file"] == int8.INT8_FILE and manifest["key"] == built.manifest["key"]
