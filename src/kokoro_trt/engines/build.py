"""``build_engines``: compile the three ONNX graphs into FP32 TensorRT engines, with manifests.

Both flavours go through the same builder API. Native TensorRT builds for the GPU it runs on;
TensorRT for RTX also builds ahead of time for a chosen architecture (``arch="sm86"``) on a machine
without a GPU. TF32 is cleared on every builder config and the manifest records the flag as read back.
Builds take a while, so a timing cache per target is kept, progress is shown with tqdm, and a
current engine set is returned as is unless ``force``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EngineBuildError, InvalidInputError, KokoroError
from ..graphs import STAGES, GraphSet
from ..storage import atomic_write, cache_dir, cache_lock, remove_stale_temporaries
from .device import EngineTarget, cross_target, current_target
from .library import TensorRTLibrary, load_library
from .manifest import EngineManifest
from .profiles import AxisRange, axis_ranges, stage_profile
from .store import EngineSet, default_engine_root, engine_path

logger = logging.getLogger(__name__)

AHEAD_OF_TIME = "no GPU (ahead of time)"


@dataclass(frozen=True)
class BuildOptions:
    """Builder settings recorded in every manifest. FP32: TF32 and FP16 are opt-in."""

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


def _configure(library: TensorRTLibrary, config: Any, target: EngineTarget, options: BuildOptions) -> bool:
    """Precision, memory and (TensorRT for RTX) target architecture; returns TF32 as the config holds it."""
    trt = library.trt
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    config.builder_optimization_level = options.optimization_level
    if options.tf32:
        config.set_flag(trt.BuilderFlag.TF32)
    else:
        config.clear_flag(trt.BuilderFlag.TF32)
    if options.fp16:
        if not hasattr(trt.BuilderFlag, "FP16"):
            raise EngineBuildError(f"{library.name} {library.version} has no FP16 builder flag: build in FP32")
        config.set_flag(trt.BuilderFlag.FP16)
    if library.cross_builds:
        config.num_compute_capabilities = 1
        config.set_compute_capability(library.compute_capability(target.arch), 0)
    return bool(config.get_flag(trt.BuilderFlag.TF32))


def _build_one(
    library: TensorRTLibrary,
    target: EngineTarget,
    stage: str,
    onnx_path: Path,
    options: BuildOptions,
    cache: bytes,
    on_phase: Callable[[str], None],
) -> tuple[bytes, dict[str, dict[str, list[int]]], bytes, bool]:
    """Serialized engine, its profile, the updated timing cache and the TF32 flag for one graph."""
    trt, log = library.trt, library.logger
    log.errors.clear()
    builder = trt.Builder(log)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, log)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i).desc()) for i in range(parser.num_errors))
        raise EngineBuildError(f"TensorRT could not parse {onnx_path.name}: {errors or log.last_error('?')}")
    config = builder.create_builder_config()
    tf32 = _configure(library, config, target, options)
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
        raise EngineBuildError(
            f"{library.name} failed to build the {stage} engine: {log.last_error('no error logged')}"
        )
    profiles = {n: {"min": list(s[0]), "opt": list(s[1]), "max": list(s[2])} for n, s in shapes.items()}
    return bytes(plan), profiles, bytes(config.get_timing_cache().serialize()), tf32


def build_engines(
    graphs: GraphSet,
    out_dir: str | Path | None = None,
    *,
    library: str = "tensorrt",
    arch: str | None = None,
    progress: bool = True,
    options: BuildOptions | None = None,
    device_id: int = 0,
    force: bool = False,
    timing_cache: str | Path | None = None,
) -> EngineSet:
    """Compile ``graphs`` into engines under ``out_dir`` (default: the cache), one folder per target.

    Without ``arch`` the engines are for GPU ``device_id``; with ``arch`` (``"sm86"``, TensorRT for RTX
    only) they are built here, GPU or not, for any GPU of that architecture. Returns the existing set
    when it is current and ``force`` is false. The timing cache defaults to
    ``<cache>/engines/timing-<target>.cache`` so rebuilds (new weights, options) reuse kernel timings.
    """
    lib = load_library(library)  # BackendUnavailableError when it is not installed
    target = cross_target(lib, arch) if arch else current_target(lib, device_id)
    options = options or BuildOptions()
    if options.fp16 and options.tf32:
        raise InvalidInputError("choose fp16 or tf32, not both")
    directory = Path(out_dir or default_engine_root(graphs)) / target.slug
    with cache_lock(directory):
        remove_stale_temporaries(directory, [engine_path(directory, stage).name for stage in STAGES])
        if not force:
            try:
                existing = EngineSet.load(directory, graphs, target)
                if all(m.builder == options.as_dict() for m in existing.manifests.values()):
                    logger.info("engines in %s are current", directory)
                    return existing
            except KokoroError:
                pass
        directory.mkdir(parents=True, exist_ok=True)
        cache_path = Path(timing_cache) if timing_cache else cache_dir() / "engines" / f"timing-{target.slug}.cache"
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        with cache_lock(cache_path):
            remove_stale_temporaries(cache_path.parent, [cache_path.name])
            _build_all(
                lib,
                target,
                graphs,
                directory,
                options,
                cache_path,
                built_on=AHEAD_OF_TIME if arch else target.gpu_name or target.arch,
                progress=progress,
            )
        return EngineSet.load(directory, graphs, target)


def _build_all(
    lib: TensorRTLibrary,
    target: EngineTarget,
    graphs: GraphSet,
    directory: Path,
    options: BuildOptions,
    cache_path: Path,
    *,
    built_on: str,
    progress: bool,
) -> None:
    """Build each stage's engine and manifest into ``directory``, updating the timing cache as it goes."""
    from tqdm.auto import tqdm  # ~0.03 s of imports, which every ``load_kokoro`` would pay through this package

    cache = cache_path.read_bytes() if cache_path.is_file() else b""
    with tqdm(total=len(STAGES), desc=f"build {target.arch}", unit="engine", disable=not progress) as bar:
        for stage in STAGES:
            started = time.perf_counter()
            onnx_path = graphs.path(stage)

            def report(phase: str, stage: str = stage) -> None:
                bar.set_postfix_str(f"{stage}: {phase}")

            plan, profiles, cache, tf32 = _build_one(lib, target, stage, onnx_path, options, cache, report)
            atomic_write(cache_path, cache)
            engine = engine_path(directory, stage)
            atomic_write(engine, plan)
            EngineManifest.describe(
                stage,
                engine,
                onnx_path,
                target,
                precision=options.precision,
                tf32=tf32,
                profiles=profiles,
                builder=options.as_dict(),
                built_on=built_on,
            ).write(engine)
            logger.info("built %s in %.0f s", engine, time.perf_counter() - started)
            bar.update()
