"""``build_engines``: compile the three ONNX graphs into FP32 TensorRT engines, with manifests.

Builds take minutes, so a timing cache per GPU and TensorRT version is saved and reused, progress
is shown with tqdm, and a current engine set is returned as is unless ``force``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..assets import cache_dir
from ..errors import EngineBuildError, KokoroError
from ..files import atomic_write
from ..graphs import STAGES, GraphSet
from .device import current_device
from .manifest import EngineManifest
from .profiles import AxisRange, axis_ranges, stage_profile
from .store import EngineSet, default_engine_dir, engine_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    """Builder settings recorded in every manifest. FP32 by default: TF32 and FP16 are opt-in."""

    fp16: bool = False
    tf32: bool = False  # TensorRT enables TF32 by default; FP32 parity needs it off
    workspace_mib: int = 4096
    optimization_level: int = 3
    ranges: dict[str, AxisRange] = field(default_factory=axis_ranges)

    @property
    def precision(self) -> str:
        return "fp16" if self.fp16 else "tf32" if self.tf32 else "fp32"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ranges": {k: asdict(v) for k, v in self.ranges.items()}}


def recording_logger(trt: Any) -> Any:
    """A ``trt.ILogger`` forwarding to :mod:`logging` and keeping the last error for messages."""

    class RecordingLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity in (trt.ILogger.INTERNAL_ERROR, trt.ILogger.ERROR):
                self.errors.append(msg)
                logger.error("TensorRT: %s", msg)
            elif severity == trt.ILogger.WARNING:
                logger.debug("TensorRT: %s", msg)

        def last_error(self, default: str) -> str:
            return self.errors[-1] if self.errors else default

    return RecordingLogger()


def _progress_monitor(trt: Any, on_phase: Callable[[str], None]) -> Any:
    class Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            if parent_phase is None:
                on_phase(phase_name)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True  # never cancel

        def phase_finish(self, phase_name: str) -> None:
            pass

    return Monitor()



def _build_one(
    trt: Any, stage: str, onnx_path: Path, options: BuildOptions, cache: bytes, on_phase: Callable[[str], None]
) -> tuple[bytes, dict[str, dict[str, list[int]]], bytes]:
    """Serialized engine, its profile and the updated timing cache for one graph."""
    log = recording_logger(trt)
    builder = trt.Builder(log)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, log)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i).desc()) for i in range(parser.num_errors))
        raise EngineBuildError(f"TensorRT could not parse {onnx_path.name}: {errors or log.last_error('?')}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    config.builder_optimization_level = options.optimization_level
    if not options.tf32:
        config.clear_flag(trt.BuilderFlag.TF32)
    if options.fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    shapes = stage_profile(stage, {t.name: tuple(t.shape) for t in inputs}, options.ranges)
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in shapes.items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    timing_cache = config.create_timing_cache(cache)
    config.set_timing_cache(timing_cache, ignore_mismatch=False)
    config.progress_monitor = _progress_monitor(trt, on_phase)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineBuildError(f"TensorRT failed to build the {stage} engine: {log.last_error('no error logged')}")
    profiles = {n: {"min": list(s[0]), "opt": list(s[1]), "max": list(s[2])} for n, s in shapes.items()}
    return bytes(plan), profiles, bytes(config.get_timing_cache().serialize())


def build_engines(
    graphs: GraphSet,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    options: BuildOptions | None = None,
    device_id: int = 0,
    force: bool = False,
    timing_cache: str | Path | None = None,
) -> EngineSet:
    """Compile ``graphs`` into engines for GPU ``device_id`` in ``out_dir`` (default: the cache).

    Returns the existing set when it is current and ``force`` is false. The timing cache defaults to
    ``<cache>/engines/timing-<gpu>.cache`` so rebuilds (new weights, options) reuse kernel timings.
    """
    device = current_device(device_id)  # BackendUnavailableError without TensorRT or a GPU
    import tensorrt as trt

    options = options or BuildOptions()
    directory = Path(out_dir) if out_dir else default_engine_dir(graphs, device)
    if not force:
        try:
            existing = EngineSet.load(directory, graphs, device)
            if all(m.builder == options.as_dict() for m in existing.manifests.values()):
                logger.info("engines in %s are current", directory)
                return existing
        except KokoroError:
            pass
    directory.mkdir(parents=True, exist_ok=True)
    cache_path = Path(timing_cache) if timing_cache else cache_dir() / "engines" / f"timing-{device.slug}.cache"
    cache = cache_path.read_bytes() if cache_path.is_file() else b""
    with tqdm(total=len(STAGES), desc="kokoro-trt build", unit="engine", disable=not progress) as bar:
        for stage in STAGES:
            started = time.perf_counter()
            onnx_path = graphs.path(stage)
            plan, profiles, cache = _build_one(
                trt, stage, onnx_path, options, cache, lambda phase, stage=stage: bar.set_postfix_str(f"{stage}: {phase}")
            )
            atomic_write(cache_path, cache)
            engine = engine_path(directory, stage)
            atomic_write(engine, plan)
            EngineManifest.describe(
                stage, engine, onnx_path, device,
                precision=options.precision, profiles=profiles, builder=options.as_dict(),
            ).write(engine)  # fmt: skip
            logger.info("built %s in %.0f s", engine, time.perf_counter() - started)
            bar.update()
    return EngineSet.load(directory, graphs, device)
