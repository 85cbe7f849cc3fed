"""TensorRT engines: build them from the exported graphs, find them, refuse stale ones.

Everything here imports without TensorRT; :func:`build_engines` and :func:`current_device` need the
``gpu`` extra and a CUDA GPU, :func:`build_any` that or the ``rtx`` extra.
"""

from .any_backend import BUILDERS, build_any
from .build import BuildOptions, build_engines
from .device import DeviceInfo, current_device
from .manifest import EngineManifest, check_engine, stale_reasons
from .profiles import MAX_FRAMES, MAX_TOKENS, AxisRange, axis_ranges, stage_profile
from .store import EngineSet, default_engine_dir, engine_path

__all__ = [
    "BUILDERS",
    "MAX_FRAMES",
    "MAX_TOKENS",
    "AxisRange",
    "BuildOptions",
    "DeviceInfo",
    "EngineManifest",
    "EngineSet",
    "axis_ranges",
    "build_any",
    "build_engines",
    "check_engine",
    "current_device",
    "default_engine_dir",
    "engine_path",
    "stage_profile",
    "stale_reasons",
]
