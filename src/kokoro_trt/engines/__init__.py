"""TensorRT engines: build them from the exported graphs, find them, refuse stale ones.

Everything here imports without TensorRT. Building needs the ``gpu`` extra (native TensorRT, on the
target GPU) or the ``rtx`` extra (TensorRT for RTX, with or without a GPU).
"""

from .any_backend import BUILDERS, build_any
from .build import BuildOptions, build_engines
from .device import EngineTarget, arch_name, compute_capability_of, cross_target, current_target
from .library import LIBRARIES, TensorRTLibrary, load_library
from .manifest import EngineManifest, check_engine, stale_reasons
from .profiles import MAX_FRAMES, MAX_TOKENS, AxisRange, axis_ranges, stage_profile
from .store import EngineSet, default_engine_root, engine_path

__all__ = [
    "BUILDERS",
    "LIBRARIES",
    "MAX_FRAMES",
    "MAX_TOKENS",
    "AxisRange",
    "BuildOptions",
    "EngineManifest",
    "EngineSet",
    "EngineTarget",
    "TensorRTLibrary",
    "arch_name",
    "axis_ranges",
    "build_any",
    "build_engines",
    "check_engine",
    "compute_capability_of",
    "cross_target",
    "current_target",
    "default_engine_root",
    "engine_path",
    "load_library",
    "stage_profile",
    "stale_reasons",
]
