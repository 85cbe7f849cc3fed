"""The JSON manifest written next to each engine, and the checks that refuse a stale one."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import StaleEngineError
from ..files import atomic_write
from ..hashing import sha256_file
from .device import DeviceInfo

FORMAT = 1
REBUILD_HINT = "Rebuild with `kokoro-trt build` (or `kokoro_trt.engines.build_engines(graphs)`)."


@dataclass(frozen=True)
class EngineManifest:
    """What one serialized engine was built from, for which GPU, with which options."""

    stage: str
    engine_file: str
    engine_bytes: int
    engine_sha256: str
    onnx_sha256: str
    gpu_name: str
    compute_capability: str
    tensorrt_version: str
    precision: str
    profiles: dict[str, dict[str, list[int]]]  # input name -> {"min"|"opt"|"max": shape}
    builder: dict[str, Any] = field(default_factory=dict)
    built_at: str = ""
    kokoro_trt_version: str = ""
    format: int = FORMAT

    @classmethod
    def describe(
        cls,
        stage: str,
        engine: Path,
        onnx: Path,
        device: DeviceInfo,
        *,
        precision: str,
        profiles: dict[str, dict[str, list[int]]],
        builder: dict[str, Any],
    ) -> EngineManifest:
        """The manifest of a freshly built ``engine`` file, compiled from ``onnx`` on ``device``."""
        return cls(
            stage=stage,
            engine_file=engine.name,
            engine_bytes=engine.stat().st_size,
            engine_sha256=sha256_file(engine),
            onnx_sha256=sha256_file(onnx),
            gpu_name=device.name,
            compute_capability=device.compute_capability,
            tensorrt_version=device.tensorrt_version,
            precision=precision,
            profiles=profiles,
            builder=builder,
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            kokoro_trt_version=__version__,
        )

    @staticmethod
    def path_for(engine: Path) -> Path:
        return engine.with_name(engine.name + ".json")

    def write(self, engine: Path) -> Path:
        """Write atomically next to ``engine`` (after the engine itself, so a manifest means a whole engine)."""
        path = self.path_for(engine)
        atomic_write(path, json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def read(cls, engine: Path) -> EngineManifest:
        path = cls.path_for(engine)
        try:
            raw = json.loads(path.read_text())
            return cls(**raw)
        except FileNotFoundError:
            raise StaleEngineError(f"{engine} has no manifest ({path.name}); it cannot be trusted. {REBUILD_HINT}")
        except (ValueError, TypeError) as exc:
            raise StaleEngineError(f"unreadable engine manifest {path}: {exc}. {REBUILD_HINT}") from exc


def stale_reasons(
    manifest: EngineManifest, engine: Path, device: DeviceInfo, onnx_sha256: str, *, same_gpu: bool = True
) -> list[str]:
    """Why ``engine`` must not run on ``device`` for this graph (empty when it may)."""
    reasons = []
    if manifest.format != FORMAT:
        reasons.append(f"manifest format {manifest.format}, this kokoro-trt reads {FORMAT}")
    if manifest.onnx_sha256 != onnx_sha256:
        reasons.append(
            f"built from a different {manifest.stage} graph (sha256 {manifest.onnx_sha256[:12]}…, "
            f"current {onnx_sha256[:12]}…)"
        )
    if manifest.tensorrt_version != device.tensorrt_version:
        reasons.append(f"built with TensorRT {manifest.tensorrt_version}, installed {device.tensorrt_version}")
    if same_gpu and manifest.compute_capability != device.compute_capability:
        reasons.append(
            f"built for compute capability {manifest.compute_capability}, this GPU is {device.compute_capability}"
        )
    if same_gpu and manifest.gpu_name != device.name:
        reasons.append(f"built on {manifest.gpu_name}, this GPU is {device.name}")
    size = engine.stat().st_size if engine.is_file() else None
    if size != manifest.engine_bytes:
        reasons.append("engine file missing" if size is None else f"engine file is {size} bytes, manifest says "
                       f"{manifest.engine_bytes}")  # fmt: skip
    return reasons


def check_engine(
    engine: Path, device: DeviceInfo, onnx_sha256: str, *, same_gpu: bool = True
) -> EngineManifest:
    """The manifest of ``engine``; raises :class:`StaleEngineError` listing every reason it is stale."""
    manifest = EngineManifest.read(engine)
    reasons = stale_reasons(manifest, engine, device, onnx_sha256, same_gpu=same_gpu)
    if reasons:
        raise StaleEngineError(f"stale engine {engine}: " + "; ".join(reasons) + f". {REBUILD_HINT}")
    return manifest
