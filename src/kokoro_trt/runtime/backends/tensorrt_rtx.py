"""TensorRT for RTX through ONNX Runtime's plugin execution provider (``onnxruntime-ep-nv-tensorrt-rtx``).

The EP compiles each graph into a TensorRT-RTX engine. With EP-context caching (session options
``ep.context_enable`` / ``ep.context_file_path`` / ``ep.context_embed_mode``) that engine is written
once, by :func:`compile_rtx`, as ``<stage>_ctx.onnx`` plus its binary, next to a manifest; loading
uses those files and never compiles silently. TensorRT-RTX runs on compute capability 8.6 (Ampere
RTX), 8.9 (Ada) and 12.x (Blackwell), not on data-centre Hopper (9.0) or A100 (8.0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import Fail

from ...assets import cache_dir
from ...engines import DeviceInfo, EngineManifest, check_engine
from ...engines.device import gpu_properties
from ...engines.profiles import AxisRange, axis_ranges, stage_profile
from ...engines.store import graph_key
from ...errors import BackendUnavailableError, KokoroError, ModelNotFoundError
from ...graphs import STAGES, GraphSet
from ...hashing import sha256_file
from .ort import OnnxRuntimeBackend, session_options

EP_NAME = "NvTensorRTRTXExecutionProvider"
_registered = False


def rtx_supported(compute_capability: str) -> bool:
    """Whether TensorRT-RTX runs on this compute capability (the EP's own rule: 8.6, 8.9, ≥ 12.0)."""
    major, minor = (int(part) for part in compute_capability.split("."))
    return (major, minor) in ((8, 6), (8, 9)) or major >= 12


def _ep_module() -> Any:
    global _registered
    try:
        import onnxruntime_ep_nv_tensorrt_rtx as ep
    except ImportError:
        raise BackendUnavailableError(
            "TensorRT-RTX EP is not installed: `pip install 'kokoro-trt[rtx]'`"
        ) from None
    if not _registered:
        try:
            ort.register_execution_provider_library(ep.get_ep_name(), ep.get_library_path())
        except Fail as exc:  # e.g. no NVIDIA driver: libcuda.so.1 is missing
            raise BackendUnavailableError(f"the TensorRT-RTX EP cannot load: {exc}") from None
        _registered = True
    return ep


def rtx_device(device_id: int = 0) -> DeviceInfo:
    """The GPU as the RTX EP sees it; :class:`BackendUnavailableError` if it cannot run TensorRT-RTX."""
    ep = _ep_module()
    name, capability = gpu_properties(device_id)
    if not rtx_supported(capability):
        raise BackendUnavailableError(
            f"TensorRT-RTX supports compute capability 8.6, 8.9 and 12.x; {name} is {capability}"
        )
    return DeviceInfo(name, capability, f"rtx-ep-{ep.__version__}", device_id)


def _options(threads: int | None, device_id: int, provider_options: dict[str, str]) -> ort.SessionOptions:
    devices = [d for d in ort.get_ep_devices() if d.ep_name == EP_NAME]
    if device_id >= len(devices):
        raise BackendUnavailableError(f"the TensorRT-RTX EP sees {len(devices)} GPU(s), not cuda:{device_id}")
    options = session_options(threads or 1)
    options.add_provider_for_devices([devices[device_id]], provider_options)
    return options


def profile_options(stage: str, input_shapes: dict[str, tuple[int, ...]], ranges: dict[str, AxisRange]) -> dict:
    """The EP's ``nv_profile_{min,opt,max}_shapes`` strings (``name:1x512,name2:…``)."""
    profile = stage_profile(stage, input_shapes, ranges)
    return {
        f"nv_profile_{bound}_shapes": ",".join(f"{n}:{'x'.join(map(str, s[i]))}" for n, s in profile.items())
        for i, bound in enumerate(("min", "opt", "max"))
    }


def _input_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return {i.name: tuple(d if isinstance(d, int) else -1 for d in i.shape) for i in session.get_inputs()}


def rtx_dir(graphs: GraphSet, device: DeviceInfo) -> Path:
    return cache_dir() / "engines" / graph_key(graphs) / device.tensorrt_version


def context_path(directory: Path, stage: str) -> Path:
    return directory / f"{stage}_ctx.onnx"


def compile_rtx(
    graphs: GraphSet, out_dir: str | Path | None = None, *, device_id: int = 0, force: bool = False
) -> Path:
    """Compile the three graphs with TensorRT-RTX into EP-context models; returns their folder.

    Stages whose compiled model is current (same graph, EP version and profiles) are kept unless ``force``.
    """
    device = rtx_device(device_id)
    directory = Path(out_dir) if out_dir else rtx_dir(graphs, device)
    directory.mkdir(parents=True, exist_ok=True)
    ranges = axis_ranges(samples_per_frame=graphs.samples_per_frame)
    for stage in STAGES:
        shapes = _input_shapes(graphs.path(stage))
        provider = profile_options(stage, shapes, ranges)
        ctx = context_path(directory, stage)
        if not force and _current(ctx, graphs, stage, device, provider):
            continue
        options = _options(None, device_id, provider)
        options.add_session_config_entry("ep.context_enable", "1")
        options.add_session_config_entry("ep.context_file_path", str(ctx))
        options.add_session_config_entry("ep.context_embed_mode", "0")
        ort.InferenceSession(str(graphs.path(stage)), options)  # writes ctx and its engine binary
        profile = stage_profile(stage, shapes, ranges)
        EngineManifest.describe(
            stage, ctx, graphs.path(stage), device,
            precision="fp32",
            profiles={n: {"min": list(s[0]), "opt": list(s[1]), "max": list(s[2])} for n, s in profile.items()},
            builder=provider,
        ).write(ctx)  # fmt: skip
    return directory


def _current(ctx: Path, graphs: GraphSet, stage: str, device: DeviceInfo, provider: dict[str, str]) -> bool:
    try:
        manifest = check_engine(ctx, device, sha256_file(graphs.path(stage)), same_gpu=False)
    except KokoroError:
        return False
    return manifest.builder == provider


class TensorRTRTXBackend(OnnxRuntimeBackend):
    """The compiled EP-context graphs on the TensorRT-RTX EP; runs like the ONNX Runtime backend."""

    def __init__(self, directory: Path, graphs: GraphSet, *, device_id: int = 0, threads: int | None = None):
        device = rtx_device(device_id)
        if not context_path(directory, "decoder").exists():
            raise ModelNotFoundError(f"no TensorRT-RTX engines in {directory}: run `kokoro-trt build`")
        paths = {}
        for stage in STAGES:  # engines are portable across RTX GPUs: check graph and EP version only
            ctx = context_path(directory, stage)
            check_engine(ctx, device, sha256_file(graphs.path(stage)), same_gpu=False)
            paths[stage] = ctx
        self.device, self.device_id, self.threads = "cuda", device_id, threads or 1
        self.name = "tensorrt-rtx"
        self.output_devices = ("cpu", "cuda")
        self.samples_per_frame = graphs.samples_per_frame
        self.sessions = {
            stage: ort.InferenceSession(str(path), _options(threads, device_id, {})) for stage, path in paths.items()
        }


def load_tensorrt_rtx(graphs: GraphSet, device_id: int = 0, threads: int | None = None) -> TensorRTRTXBackend:
    """The compiled TensorRT-RTX graphs for ``graphs``; :class:`BackendUnavailableError` when absent."""
    device = rtx_device(device_id)
    try:
        return TensorRTRTXBackend(rtx_dir(graphs, device), graphs, device_id=device_id, threads=threads)
    except ModelNotFoundError as exc:
        raise BackendUnavailableError(str(exc)) from None
