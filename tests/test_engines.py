"""Engine manifests, staleness, profiles, backend selection and CUDA error mapping — all on CPU."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kokoro_trt import cudart as cuda
from kokoro_trt.engines import (
    MAX_FRAMES,
    AxisRange,
    BuildOptions,
    EngineManifest,
    EngineSet,
    EngineTarget,
    any_backend,
    arch_name,
    axis_ranges,
    build_any,
    check_engine,
    compute_capability_of,
    engine_path,
    load_library,
    stage_profile,
)
from kokoro_trt.errors import (
    BackendError,
    BackendUnavailableError,
    DeviceLostError,
    DeviceOutOfMemoryError,
    EngineArchitectureError,
    EngineBuildError,
    InvalidInputError,
    ModelNotFoundError,
    StaleEngineError,
)
from kokoro_trt.graphs import STAGES, GraphSet
from kokoro_trt.runtime import load
from kokoro_trt.runtime.backends.base import backend_errors
from kokoro_trt.storage import sha256_file

RTX_3060 = EngineTarget("tensorrt", "10.13.0.35", "8.6", "NVIDIA GeForce RTX 3060")
RTX_SM86 = EngineTarget("tensorrt-rtx", "1.7.1.116", "8.6")

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


# --- manifests and staleness ----------------------------------------------------------------------


@pytest.fixture
def graphs(tmp_path: Path) -> GraphSet:
    directory = tmp_path / "graphs"
    directory.mkdir()
    for stage in STAGES:
        (directory / f"{stage}.onnx").write_bytes(f"fake {stage} graph".encode())
    manifest = {
        "key": "abc123",
        "samples_per_frame": 600,
        "graphs": {s: {"file": f"{s}.onnx"} for s in STAGES},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return GraphSet.load(directory)


def _fake_build(graphs: GraphSet, directory: Path, target: EngineTarget) -> None:
    """What build_engines writes, with placeholder engine bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    options = BuildOptions()
    for stage in STAGES:
        engine = engine_path(directory, stage)
        engine.write_bytes(b"serialized " + stage.encode())
        EngineManifest.describe(
            stage,
            engine,
            graphs.path(stage),
            target,
            precision=options.precision,
            tf32=False,
            profiles={"x": {"min": [1], "opt": [2], "max": [3]}},
            builder=options.as_dict(),
            built_on="test",
        ).write(engine)


def test_manifest_round_trip(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    engine = engine_path(tmp_path / "e", "decoder")
    manifest = EngineManifest.read(engine)
    assert EngineManifest.path_for(engine).name == "decoder.engine.json"
    assert manifest.stage == "decoder" and manifest.precision == "fp32" and manifest.tf32 is False
    assert manifest.builder["tf32"] is False and manifest.builder["fp16"] is False
    assert manifest.builder["ranges"]["frames"]["max"] == MAX_FRAMES
    assert manifest.target == RTX_3060
    manifest.write(engine)
    assert EngineManifest.read(engine) == manifest


def test_current_engines_load(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    engines = EngineSet.load(tmp_path / "e", graphs, RTX_3060)
    assert set(engines.manifests) == set(STAGES)
    assert engines.path("prosody") == tmp_path / "e" / "prosody.engine"


@pytest.mark.parametrize(
    "target, reason",
    [
        (
            replace(RTX_3060, library_version="10.14.1"),
            "built with tensorrt 10.13.0.35, this is tensorrt 10.14.1",
        ),
        (replace(RTX_3060, gpu_name="NVIDIA GeForce RTX 3070"), "built on NVIDIA GeForce RTX 3060"),
        (
            EngineTarget("tensorrt", "10.13.0.35", "9.0", "NVIDIA H100 80GB HBM3"),
            "built for sm86, this GPU is sm90",
        ),
        (RTX_SM86, "built with tensorrt 10.13.0.35, this is tensorrt-rtx 1.7.1.116"),
    ],
)
def test_foreign_target_is_refused(graphs, tmp_path, target, reason):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    with pytest.raises(StaleEngineError) as caught:
        EngineSet.load(tmp_path / "e", graphs, target)
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
    path.write_text(json.dumps({**raw, "format": 1}))
    with pytest.raises(StaleEngineError, match="manifest format 1, this kokoro-trt reads 2"):
        check_engine(engine, RTX_3060, sha256_file(graphs.path("duration")))
    path.write_text(json.dumps({**raw, "unknown_field": 1}))
    with pytest.raises(StaleEngineError, match="unreadable"):
        check_engine(engine, RTX_3060, sha256_file(graphs.path("duration")))
    path.write_text("{not json")
    with pytest.raises(StaleEngineError, match="unreadable"):
        check_engine(engine, RTX_3060, sha256_file(graphs.path("duration")))


def test_every_reason_is_listed_at_once(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_3060)
    graphs.path("duration").write_bytes(b"other")
    other = EngineTarget("tensorrt", "10.14.1", "8.9", "NVIDIA GeForce RTX 4090")
    with pytest.raises(StaleEngineError) as caught:
        check_engine(engine_path(tmp_path / "e", "duration"), other, sha256_file(graphs.path("duration")))
    assert not isinstance(caught.value, EngineArchitectureError)
    assert str(caught.value).count(";") == 3  # graph, TensorRT version, capability, GPU name


def test_rtx_engines_run_on_any_gpu_of_their_architecture(graphs, tmp_path):
    _fake_build(graphs, tmp_path / "e", RTX_SM86)
    assert EngineSet.load(tmp_path / "e", graphs, RTX_SM86).manifests["decoder"].gpu_name == ""
    graphs.path("decoder").write_bytes(b"re-exported decoder")
    with pytest.raises(StaleEngineError, match="different decoder graph"):
        EngineSet.load(tmp_path / "e", graphs, RTX_SM86)


def test_another_architecture_is_a_typed_error_naming_the_build(graphs, tmp_path):
    """A set built for sm89 on an sm86 GPU: EngineArchitectureError with the command that fixes it."""
    ada = replace(RTX_SM86, compute_capability="8.9")
    _fake_build(graphs, tmp_path / "e", ada)
    with pytest.raises(EngineArchitectureError, match="is for sm89, this GPU is sm86.*--arch sm86"):
        EngineSet.load(tmp_path / "e", graphs, RTX_SM86)


def test_find_picks_this_gpus_set_from_a_shipped_folder(graphs, tmp_path):
    """``kokoro-trt build --arch sm86 sm89 --out fleet/``: each GPU finds its own set; others are refused."""
    fleet = tmp_path / "fleet"
    for capability in ("8.6", "8.9"):
        target = replace(RTX_SM86, compute_capability=capability)
        _fake_build(graphs, fleet / target.slug, target)
    ada = replace(RTX_SM86, compute_capability="8.9")
    assert EngineSet.find(fleet, graphs, ada).directory == fleet / "tensorrt-rtx-1.7.1.116-sm89"
    assert EngineSet.find(fleet, graphs, RTX_SM86).directory == fleet / "tensorrt-rtx-1.7.1.116-sm86"
    blackwell = replace(RTX_SM86, compute_capability="12.0")
    with pytest.raises(EngineArchitectureError, match="are for sm86, sm89; this GPU is sm120.*--arch sm120"):
        EngineSet.find(fleet, graphs, blackwell)
    with pytest.raises(ModelNotFoundError, match="no TensorRT engines"):
        EngineSet.find(fleet, graphs, RTX_3060)  # another library: nothing for it here


def test_no_engines_is_not_found(graphs, tmp_path):
    with pytest.raises(ModelNotFoundError, match="kokoro-trt build"):
        EngineSet.load(tmp_path / "nothing", graphs, RTX_3060)


def test_target_folders_separate_libraries_versions_and_gpus():
    assert RTX_SM86.slug == "tensorrt-rtx-1.7.1.116-sm86"
    assert RTX_3060.slug == "tensorrt-10.13.0.35-sm86-nvidia-geforce-rtx-3060"
    assert len({RTX_3060.slug, replace(RTX_3060, library_version="10.14.1").slug, RTX_SM86.slug}) == 3


@pytest.mark.parametrize("arch, capability", [("sm86", "8.6"), ("sm89", "8.9"), ("sm120", "12.0"), ("SM_75", "7.5")])
def test_architecture_names(arch, capability):
    assert compute_capability_of(arch) == capability
    assert arch_name(capability) == arch.lower().replace("_", "")


def test_bad_architecture_name_is_invalid_input():
    with pytest.raises(InvalidInputError, match="sm86, sm89 or sm120"):
        compute_capability_of("ampere")


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
    candidates = [
        ("tensorrt", _unavailable("no engines built")),
        ("tensorrt-rtx", lambda: FakeBackend("rtx")),
    ]
    monkeypatch.setattr(load, "_gpu_candidates", lambda *a: candidates)
    with caplog.at_level(logging.INFO, logger=load.__name__):
        assert load.select_backend("auto", graphs).name == "rtx"
    assert "using tensorrt-rtx (skipped tensorrt: no engines built)" in caplog.text


def test_auto_falls_back_to_cpu_and_says_why(graphs, fake_cpu, monkeypatch, caplog):
    candidates = [
        ("tensorrt", _unavailable("TensorRT is not installed")),
        ("onnxruntime-cuda", _unavailable("no GPU")),
    ]
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
    """On a machine without TensorRT, TensorRT for RTX or a CUDA provider, every GPU candidate is unavailable."""
    for module in ("tensorrt", "tensorrt_rtx_bindings"):
        monkeypatch.setitem(__import__("sys").modules, module, None)  # import fails
    load_library.cache_clear()
    monkeypatch.setattr(__import__("onnxruntime"), "get_available_providers", lambda: ["CPUExecutionProvider"])
    try:
        with pytest.raises(BackendUnavailableError) as caught:
            load.select_backend("cuda", graphs)
    finally:
        load_library.cache_clear()
    message = str(caught.value)
    assert "tensorrt: TensorRT is not installed: `pip install 'kokoro-trt[gpu]'`" in message
    assert "tensorrt-rtx: TensorRT for RTX is not installed: `pip install 'kokoro-trt[rtx]'`" in message
    assert "onnxruntime-cuda:" in message


def test_build_any_prefers_native_tensorrt_then_rtx(graphs, monkeypatch, tmp_path):
    tried = []

    def build(graphs, out_dir, *, library, arch=None, device_id, force, progress):
        tried.append((library, arch))
        if library == "tensorrt":
            raise BackendUnavailableError("TensorRT is not installed")
        return tmp_path / f"{library}-{arch}"

    monkeypatch.setattr(any_backend, "build_engines", build)
    assert build_any(graphs) == [("tensorrt-rtx", tmp_path / "tensorrt-rtx-None")]
    assert tried == [("tensorrt", None), ("tensorrt-rtx", None)]
    with pytest.raises(BackendUnavailableError, match="tensorrt: TensorRT is not installed.*--arch sm86"):
        build_any(graphs, "tensorrt")
    with pytest.raises(InvalidInputError, match="backend must be"):
        build_any(graphs, "tensorrt-fp16")


def test_build_any_cross_builds_each_architecture_once_with_rtx(graphs, monkeypatch, tmp_path):
    built = []
    monkeypatch.setattr(
        any_backend,
        "build_engines",
        lambda graphs, out_dir, *, library, arch, **_: built.append((library, arch)),
    )
    assert [name for name, _ in build_any(graphs, archs=["sm86", "sm89", "sm86"])] == ["tensorrt-rtx"] * 2
    assert built == [("tensorrt-rtx", "sm86"), ("tensorrt-rtx", "sm89")]
    with pytest.raises(InvalidInputError, match="--arch builds need TensorRT for RTX"):
        build_any(graphs, "tensorrt", archs=["sm86"])


def test_native_tensorrt_cannot_cross_build():
    from kokoro_trt.engines import TensorRTLibrary, cross_target

    with pytest.raises(InvalidInputError, match="native TensorRT builds only for the GPU it runs on"):
        cross_target(TensorRTLibrary("tensorrt", object(), None), "sm86")


def test_tensorrt_11_is_refused_with_the_supported_pin(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tensorrt", type("tensorrt", (), {"__version__": "11.0.0.7"}))
    load_library.cache_clear()
    try:
        with pytest.raises(BackendUnavailableError, match=r"TensorRT 11.0.0.7 is installed.*'tensorrt>=10.3,<11'"):
            load_library("tensorrt")
    finally:
        load_library.cache_clear()


def test_rtx_without_a_gpu_is_skipped(graphs, fake_cpu, caplog):
    """The real TensorRT for RTX, installed on this machine without a GPU: unavailable, not a crash."""
    if not _has_rtx():
        pytest.skip("TensorRT for RTX is not installed")
    from kokoro_trt.runtime.backends.tensorrt import load_tensorrt

    with pytest.raises(BackendUnavailableError):
        load_tensorrt(graphs, "tensorrt-rtx")
    with caplog.at_level(logging.INFO, logger=load.__name__):
        assert load.select_backend("auto", graphs).name == "ort-cuda"  # the next candidate
    assert "tensorrt-rtx: " in caplog.text


# --- devices, streams, errors ---------------------------------------------------------------------


def test_rtx_runs_on_rtx_generations_only():
    """TensorRT for RTX's own list of architectures: Turing to Blackwell, never Hopper or A100-class 8.0."""
    if not _has_rtx():
        pytest.skip("TensorRT for RTX is not installed")
    library = load_library("tensorrt-rtx")
    assert {"sm86", "sm89", "sm120"} <= set(library.architectures)
    assert "sm90" not in library.architectures  # H100 / H200
    with pytest.raises(InvalidInputError, match="cannot build for sm90"):
        library.compute_capability("sm90")


def _has_rtx() -> bool:
    try:
        load_library("tensorrt-rtx")
    except BackendUnavailableError:
        return False
    return True


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
    with (
        pytest.raises(kind, match="tensorrt failed in the decoder stage") as caught,
        backend_errors("tensorrt", "decoder"),
    ):
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


# --- the TensorRT backend's binding rules, with fake engines ----------------------------------------


class _FakeEngine:
    max_samples = 6000

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def set_input(self, name, value, stream, upload=True) -> None:
        pass

    def run(self, stream, addresses=None) -> None:
        self.calls.append(("run", addresses["audio"]))


class _FakeStream:
    def __init__(self, calls: list) -> None:
        self.calls = calls

    def synchronize(self) -> None:
        self.calls.append(("sync",))

    def close(self) -> None:
        pass


def test_decoder_binds_the_callers_buffer_only_when_256_byte_aligned(monkeypatch):
    """TensorRT needs aligned tensor addresses: a misaligned offset decodes aside and copies on the device."""
    from types import SimpleNamespace

    from kokoro_trt.runtime.backends import tensorrt
    from kokoro_trt.runtime.backends.base import TextFeatures
    from kokoro_trt.runtime.buffers import OutputTarget

    calls: list = []
    scratch = 0x20000
    monkeypatch.setattr(tensorrt.cuda, "DeviceBuffer", lambda n: SimpleNamespace(ptr=scratch, free=lambda: None))
    monkeypatch.setattr(tensorrt.cuda, "copy_from_device", lambda *args: calls.append(("copy", *args[:4])))
    backend = object.__new__(tensorrt.TensorRTBackend)
    backend.__dict__.update(
        name="tensorrt",
        device_id=0,
        _engines={"decoder": _FakeEngine(calls), "prosody": _FakeEngine(calls)},
        _scratch=None,
        _decoded=True,
        stream=_FakeStream(calls),
        samples_per_frame=600,
        _resident=1,
    )
    resident = tensorrt.Resident(np.zeros(1, np.float32), 1)
    features = TextFeatures(np.array([2]), resident, resident)
    frames = np.zeros(2, np.int64)
    device_buffer = OutputTarget(None, 0x100000, 10_000, "cuda")
    backend.decode(features, frames, None, None, None, None, device_buffer, 64)  # +256 bytes
    assert calls == [("run", 0x100000 + 256), ("sync",)]
    calls.clear()
    backend.decode(features, frames, None, None, None, None, device_buffer, 1)  # +4 bytes
    assert calls == [("run", scratch), ("copy", 0x100004, "cuda", scratch, 4 * 1200)]
    calls.clear()
    host_buffer = OutputTarget(None, 0x300000, 10_000, "cpu")
    backend.decode(features, frames, None, None, None, None, host_buffer, 64)
    assert calls == [("run", scratch), ("copy", 0x300000 + 256, "cpu", scratch, 4 * 1200)]
    backend._engines.clear()


def test_a_rejected_tensor_address_is_a_backend_error():
    from types import SimpleNamespace

    from kokoro_trt.runtime.backends import tensorrt

    engine = object.__new__(tensorrt._Engine)
    engine.buffers = {"t_en": SimpleNamespace(ptr=0x1000)}
    engine.context = SimpleNamespace(set_tensor_address=lambda name, ptr: False)
    engine.log = SimpleNamespace(errors=[], last_error=lambda default: "address misaligned")
    with pytest.raises(BackendError, match="rejected the address of t_en: address misaligned"):
        engine.run(None)
