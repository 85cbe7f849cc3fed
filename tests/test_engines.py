"""Engine manifests, staleness, profiles, backend selection and CUDA error mapping — all on CPU."""

from __future__ import annotations

import ctypes.util
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kokoro_trt.engines import (
    MAX_FRAMES,
    AxisRange,
    BuildOptions,
    DeviceInfo,
    EngineManifest,
    EngineSet,
    any_backend,
    axis_ranges,
    build_any,
    check_engine,
    engine_path,
    stage_profile,
)
from kokoro_trt.errors import (
    BackendError,
    BackendUnavailableError,
    DeviceLostError,
    DeviceOutOfMemoryError,
    EngineBuildError,
    InvalidInputError,
    ModelNotFoundError,
    StaleEngineError,
)
from kokoro_trt.graphs import STAGES, GraphSet
from kokoro_trt.hashing import sha256_file
from kokoro_trt.runtime import load
from kokoro_trt.runtime.backends import cuda
from kokoro_trt.runtime.backends.base import backend_errors
from kokoro_trt.runtime.backends.tensorrt_rtx import load_tensorrt_rtx, profile_options, rtx_supported

RTX_3060 = DeviceInfo("NVIDIA GeForce RTX 3060", "8.6", "10.13.0.35")

# Graph input shapes as TensorRT's ONNX parser reports them (-1 marks a dynamic axis).
NETWORK_SHAPES = {
    "duration": {"input_ids": (1, -1), "style": (1, 256), "speed": (1,)},
    "prosody": {"d": (1, -1, 640), "frame_index": (-1,), "style": (1, 256)},
    "decoder": {
        "t_en": (1, 512, -1),
        "frame_index": (-1,),
        "f0": (1, -1),
        "n": (1, -1),
        "style": (1, 256),
        "noise": (1, -1),
    },
}


# --- profiles -------------------------------------------------------------------------------------


def test_ranges_cover_512_tokens_and_45_seconds_with_margin():
    ranges = axis_ranges()
    assert (ranges["tokens"].min, ranges["tokens"].max) == (1, 512)
    assert 64 <= ranges["tokens"].opt <= 128
    assert ranges["frames"].max == MAX_FRAMES >= 45 * 24000 // 600 * 1.1
    assert ranges["f0_frames"] == AxisRange(2, 2 * ranges["frames"].opt, 2 * MAX_FRAMES)
    assert ranges["samples"].max == 600 * MAX_FRAMES


def test_decoder_profile_keeps_static_dims_and_scales_dynamic_ones():
    profile = stage_profile("decoder", NETWORK_SHAPES["decoder"], axis_ranges(opt_tokens=100, opt_frames=300))
    assert profile["t_en"] == ((1, 512, 1), (1, 512, 100), (1, 512, 512))
    assert profile["frame_index"] == ((1,), (300,), (MAX_FRAMES,))
    assert profile["f0"] == profile["n"] == ((1, 2), (1, 600), (1, 2 * MAX_FRAMES))
    assert profile["noise"] == ((1, 600), (1, 300 * 600), (1, MAX_FRAMES * 600))
    assert profile["style"] == ((1, 256),) * 3


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_profile_is_ordered(stage):
    for lo, opt, hi in stage_profile(stage, NETWORK_SHAPES[stage], axis_ranges()).values():
        assert all(a <= b <= c for a, b, c in zip(lo, opt, hi))


def test_unexpected_dynamic_axis_is_a_build_error():
    with pytest.raises(EngineBuildError, match="re-export"):
        stage_profile("duration", {**NETWORK_SHAPES["duration"], "style": (1, -1)}, axis_ranges())
    with pytest.raises(EngineBuildError):  # a declared dynamic axis that the graph pinned
        stage_profile("duration", {**NETWORK_SHAPES["duration"], "input_ids": (1, 12)}, axis_ranges())


def test_axis_range_rejects_disorder():
    with pytest.raises(ValueError):
        AxisRange(1, 600, 512)


def test_dynamic_axes_match_the_exporter():
    pytest.importorskip("torch")
    from kokoro_trt.engines.profiles import DYNAMIC_INPUT_AXES
    from kokoro_trt.export.onnx_export import SPECS

    for stage, spec in SPECS.items():
        expected = {name: axes for name, axes in spec.dynamic_axes.items() if name in spec.inputs}
        assert DYNAMIC_INPUT_AXES[stage] == expected


def test_rtx_profile_strings():
    options = profile_options("duration", NETWORK_SHAPES["duration"], axis_ranges(opt_tokens=96))
    assert options["nv_profile_min_shapes"] == "input_ids:1x1,style:1x256,speed:1"
    assert options["nv_profile_opt_shapes"] == "input_ids:1x96,style:1x256,speed:1"
    assert options["nv_profile_max_shapes"] == "input_ids:1x512,style:1x256,speed:1"


# --- manifests and staleness ----------------------------------------------------------------------


@pytest.fixture
def graphs(tmp_path: Path) -> GraphSet:
    directory = tmp_path / "graphs"
    directory.mkdir()
    for stage in STAGES:
        (directory / f"{stage}.onnx").write_bytes(f"fake {stage} graph".encode())
    manifest = {"key": "abc123", "samples_per_frame": 600, "graphs": {s: {"file": f"{s}.onnx"} for s in STAGES}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return GraphSet.load(directory)


def _fake_build(graphs: GraphSet, directory: Path, device: DeviceInfo) -> None:
    """What build_engines writes, with placeholder engine bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    options = BuildOptions()
    for stage in STAGES:
        engine = engine_path(directory, stage)
        engine.write_bytes(b"serialized " + stage.encode())
        EngineManifest.describe(
            stage, engine, graphs.path(stage), device, precision=options.precision,
            profiles={"x": {"min": [1], "opt": [2], "max": [3]}}, builder=options.as_dict(),
        ).write(engine)  # fmt: skip


def test_manifest_round_trip(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    engine = engine_path(tmp_path / "e", "decoder")
    manifest = EngineManifest.read(engine)
    assert EngineManifest.path_for(engine).name == "decoder.engine.json"
    assert manifest.stage == "decoder" and manifest.precision == "fp32"
    assert manifest.builder["tf32"] is False and manifest.builder["fp16"] is False
    assert manifest.builder["ranges"]["frames"]["max"] == MAX_FRAMES
    manifest.write(engine)
    assert EngineManifest.read(engine) == manifest


def test_current_engines_load(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    engines = EngineSet.load(tmp_path / "e", graphs, RTX_3060)
    assert set(engines.manifests) == set(STAGES)
    assert engines.path("prosody") == tmp_path / "e" / "prosody.engine"


@pytest.mark.parametrize(
    "device, reason",
    [
        (replace(RTX_3060, tensorrt_version="10.14.1"), "built with TensorRT 10.13.0.35, installed 10.14.1"),
        (replace(RTX_3060, compute_capability="8.9"), "built for compute capability 8.6, this GPU is 8.9"),
        (replace(RTX_3060, name="NVIDIA GeForce RTX 3070"), "built on NVIDIA GeForce RTX 3060"),
        (DeviceInfo("NVIDIA H100 80GB HBM3", "9.0", "10.13.0.35"), "compute capability 8.6, this GPU is 9.0"),
    ],
)
def test_foreign_device_is_refused(graphs, tmp_path, device, reason):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    with pytest.raises(StaleEngineError) as caught:
        EngineSet.load(tmp_path / "e", graphs, device)
    assert reason in str(caught.value) and "kokoro-trt build" in str(caught.value)


def test_changed_onnx_is_refused(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    graphs.path("prosody").write_bytes(b"re-exported prosody graph")
    with pytest.raises(StaleEngineError, match="different prosody graph"):
        EngineSet.load(tmp_path / "e", graphs, RTX_3060)


def test_truncated_or_missing_engine_is_refused(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    engine_path(tmp_path / "e", "decoder").write_bytes(b"short")
    with pytest.raises(StaleEngineError, match="engine file is 5 bytes"):
        EngineSet.load(tmp_path / "e", graphs, RTX_3060)
    engine_path(tmp_path / "e", "decoder").unlink()
    with pytest.raises(StaleEngineError, match="engine file missing"):
        EngineSet.load(tmp_path / "e", graphs, RTX_3060)


def test_engine_without_manifest_is_refused(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    EngineManifest.path_for(engine_path(tmp_path / "e", "duration")).unlink()
    with pytest.raises(StaleEngineError, match="no manifest.*kokoro-trt build"):
        EngineSet.load(tmp_path / "e", graphs, RTX_3060)


def test_unreadable_or_old_manifest_is_refused(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    engine = engine_path(tmp_path / "e", "duration")
    path = EngineManifest.path_for(engine)
    raw = json.loads(path.read_text())
    path.write_text(json.dumps({**raw, "format": 0}))
    with pytest.raises(StaleEngineError, match="manifest format 0"):
        check_engine(engine, RTX_3060, sha256_file(graphs.path("duration")))
    path.write_text("{not json")
    with pytest.raises(StaleEngineError, match="unreadable"):
        check_engine(engine, RTX_3060, sha256_file(graphs.path("duration")))


def test_every_reason_is_listed_at_once(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    graphs.path("duration").write_bytes(b"other")
    other = DeviceInfo("NVIDIA GeForce RTX 4090", "8.9", "10.14.1")
    with pytest.raises(StaleEngineError) as caught:
        check_engine(engine_path(tmp_path / "e", "duration"), other, sha256_file(graphs.path("duration")))
    assert str(caught.value).count(";") == 3  # graph, TensorRT version, capability, GPU name


def test_portable_check_ignores_the_gpu_but_not_the_graph(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    ada = replace(RTX_3060, name="NVIDIA GeForce RTX 4090", compute_capability="8.9")
    check_engine(engine_path(tmp_path / "e", "decoder"), ada, sha256_file(graphs.path("decoder")), same_gpu=False)


def test_no_engines_is_not_found(graphs, tmp_path):
    with pytest.raises(ModelNotFoundError, match="kokoro-trt build"):
        EngineSet.load(tmp_path / "nothing", graphs, RTX_3060)


def test_default_dir_separates_gpus_and_versions(graphs, tmp_path, monkeypatch):
    from kokoro_trt.engines import default_engine_dir

    monkeypatch.setenv("KOKORO_TRT_CACHE", str(tmp_path / "cache"))
    ampere = default_engine_dir(graphs, RTX_3060)
    assert ampere == tmp_path / "cache" / "engines" / "abc123" / "nvidia-geforce-rtx-3060-sm86-trt10.13.0.35"
    assert default_engine_dir(graphs, replace(RTX_3060, tensorrt_version="10.14.1")) != ampere


def test_build_options_default_to_strict_fp32():
    options = BuildOptions()
    assert options.precision == "fp32" and not options.tf32 and not options.fp16
    assert BuildOptions(fp16=True).precision == "fp16"
    json.dumps(options.as_dict())  # recorded in manifests


# --- backend selection ----------------------------------------------------------------------------


class FakeBackend:
    def __init__(self, name: str) -> None:
        self.name = name


def _unavailable(reason: str):
    def factory():
        raise BackendUnavailableError(reason)

    return factory


@pytest.fixture
def fake_cpu(monkeypatch):
    monkeypatch.setattr(load, "OnnxRuntimeBackend", lambda graphs, device, **_: FakeBackend(f"ort-{device}"))


def test_gpu_candidates_in_preference_order(graphs):
    names = [name for name, _ in load._gpu_candidates(graphs, 0, None)]
    assert names == ["tensorrt", "tensorrt-rtx", "onnxruntime-cuda"]


def test_auto_takes_the_first_gpu_backend_that_loads(graphs, fake_cpu, monkeypatch, caplog):
    candidates = [("tensorrt", _unavailable("no engines built")), ("tensorrt-rtx", lambda: FakeBackend("rtx"))]
    monkeypatch.setattr(load, "_gpu_candidates", lambda *a: candidates)
    with caplog.at_level(logging.INFO, logger=load.__name__):
        assert load.select_backend("auto", graphs).name == "rtx"
    assert "using tensorrt-rtx (skipped tensorrt: no engines built)" in caplog.text


def test_auto_falls_back_to_cpu_and_says_why(graphs, fake_cpu, monkeypatch, caplog):
    candidates = [("tensorrt", _unavailable("TensorRT is not installed")), ("onnxruntime-cuda", _unavailable("no GPU"))]
    monkeypatch.setattr(load, "_gpu_candidates", lambda *a: candidates)
    with caplog.at_level(logging.INFO, logger=load.__name__):
        assert load.select_backend("auto", graphs).name == "ort-cpu"
    assert "using onnxruntime-cpu: tensorrt: TensorRT is not installed; onnxruntime-cuda: no GPU" in caplog.text


def test_cuda_without_a_gpu_backend_raises(graphs, fake_cpu, monkeypatch):
    monkeypatch.setattr(load, "_gpu_candidates", lambda *a: [("tensorrt", _unavailable("no engines"))])
    with pytest.raises(BackendUnavailableError, match="device='cuda'.*tensorrt: no engines"):
        load.select_backend("cuda", graphs)


def test_stale_engine_is_not_skipped_silently(graphs, fake_cpu, monkeypatch):
    def stale():
        raise StaleEngineError("stale engine: rebuild with `kokoro-trt build`")

    monkeypatch.setattr(load, "_gpu_candidates", lambda *a: [("tensorrt", stale)])
    with pytest.raises(StaleEngineError):
        load.select_backend("auto", graphs)


def test_real_candidates_fail_cleanly_without_gpu_libraries(graphs, monkeypatch):
    """On a machine without TensorRT, the RTX EP or a CUDA provider, every GPU candidate is unavailable."""
    for module in ("tensorrt", "onnxruntime_ep_nv_tensorrt_rtx"):
        monkeypatch.setitem(__import__("sys").modules, module, None)  # import fails
    monkeypatch.setattr(load.ort if hasattr(load, "ort") else __import__("onnxruntime"),
                        "get_available_providers", lambda: ["CPUExecutionProvider"])  # fmt: skip
    with pytest.raises(BackendUnavailableError) as caught:
        load.select_backend("cuda", graphs)
    message = str(caught.value)
    assert "tensorrt: TensorRT is not installed" in message
    assert "tensorrt-rtx: TensorRT-RTX EP is not installed" in message
    assert "onnxruntime-cuda:" in message


def test_build_any_prefers_native_tensorrt_then_rtx(graphs, monkeypatch, tmp_path):
    tried = []

    def build(name, graphs, out_dir, device_id, force):
        tried.append(name)
        if name == "tensorrt":
            raise BackendUnavailableError("TensorRT is not installed")
        return tmp_path / name

    monkeypatch.setattr(any_backend, "_build", build)
    assert build_any(graphs) == ("tensorrt-rtx", tmp_path / "tensorrt-rtx")
    assert tried == ["tensorrt", "tensorrt-rtx"]
    with pytest.raises(BackendUnavailableError, match="tensorrt: TensorRT is not installed$"):
        build_any(graphs, "tensorrt")
    with pytest.raises(InvalidInputError, match="backend must be"):
        build_any(graphs, "tensorrt-fp16")


def test_rtx_ep_without_an_nvidia_driver_is_skipped(graphs, fake_cpu, caplog):
    """The real TensorRT-RTX plugin, installed on a machine without libcuda: unavailable, not a crash."""
    pytest.importorskip("onnxruntime_ep_nv_tensorrt_rtx")
    if ctypes.util.find_library("cuda"):
        pytest.skip("an NVIDIA driver is installed here")
    with pytest.raises(BackendUnavailableError, match="TensorRT-RTX EP cannot load: .*libcuda"):
        load_tensorrt_rtx(graphs)
    with caplog.at_level(logging.INFO, logger=load.__name__):
        assert load.select_backend("auto", graphs).name == "ort-cuda"  # the next candidate
    assert "tensorrt-rtx: the TensorRT-RTX EP cannot load" in caplog.text


# --- devices, streams, errors ---------------------------------------------------------------------


def test_rtx_runs_on_rtx_generations_only():
    assert rtx_supported("8.6") and rtx_supported("8.9") and rtx_supported("12.0") and rtx_supported("12.1")
    assert not rtx_supported("9.0")  # H100 / H200
    assert not rtx_supported("8.0")  # A100


def test_device_slug():
    assert RTX_3060.slug == "nvidia-geforce-rtx-3060-sm86-trt10.13.0.35"


@pytest.mark.parametrize(
    "name, kind",
    [
        ("cudaErrorMemoryAllocation", DeviceOutOfMemoryError),
        ("cudaErrorIllegalAddress", DeviceLostError),
        ("cudaErrorLaunchFailure", DeviceLostError),
        ("cudaErrorInvalidValue", BackendError),
    ],
)
def test_cuda_error_codes_map_to_types(name, kind):
    assert cuda.error_type(name) is kind


@pytest.mark.parametrize(
    "message, kind",
    [
        ("[TRT] Error Code 2: OutOfMemory (Requested size was 4294967296 bytes.)", DeviceOutOfMemoryError),
        ("CUDA failure 2: out of memory ; GPU=0", DeviceOutOfMemoryError),
        ("CUDA error: an illegal memory access was encountered", DeviceLostError),
        ("Invalid input shape", BackendError),
    ],
)
def test_library_messages_map_to_types(message, kind):
    assert cuda.error_type_for_message(message) is kind
    with pytest.raises(kind, match="tensorrt failed in the decoder stage") as caught:
        with backend_errors("tensorrt", "decoder"):
            raise RuntimeError(message)
    assert isinstance(caught.value, BackendError)


def test_stream_handles():
    class TorchLike:
        cuda_stream = 1234

    class Protocol:
        def __cuda_stream__(self):
            return (0, 5678)

    assert cuda.stream_handle(42) == 42
    assert cuda.stream_handle(TorchLike()) == 1234
    assert cuda.stream_handle(Protocol()) == 5678
    with pytest.raises(BackendError, match="not a CUDA stream"):
        cuda.stream_handle("stream")


def test_output_target_zero_offset_math():
    """The decoder binds ``out.ptr + 4 * offset``: the address of sample ``offset`` of a float32 buffer."""
    audio = np.zeros(100, dtype=np.float32)
    from kokoro_trt.runtime.buffers import wrap_output

    target = wrap_output(audio)
    assert target.ptr + 4 * 37 == audio[37:].__array_interface__["data"][0]
