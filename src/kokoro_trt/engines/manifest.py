"""The JSON manifest written next to each engine, and the checks that refuse a stale one."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import EngineArchitectureError, StaleEngineError
from ..storage import atomic_write, sha256_file
from .device import EngineTarget

FORMAT = 2
REBUILD_HINT = "Rebuild with `kokoro-trt build` (or `kokoro_trt.engines.build_engines(graphs)`)."


@dataclass(frozen=True)
class EngineManifest:
    """What one serialized engine was built from, for which GPU, with which options."""

    stage: str
    engine_file: str
    engine_bytes: int
    engine_sha256: str
    onnx_sha256: str
    library: str  # "tensorrt" or "tensorrt-rtx"
    library_version: str
    compute_capability: str
    gpu_name: str  # empty: any GPU of this compute capability
    precision: str
    tf32: bool  # read back from the builder config, not assumed
    profiles: dict[str, dict[str, list[int]]]  # input name -> {"min"|"opt"|"max": shape}
    builder: dict[str, Any] = field(default_factory=dict)
    built_at: str = ""
    built_on: str = ""  # the GPU that built it, or "no GPU (ahead of time)"
    kokoro_trt_version: str = ""
    format: int = FORMAT

    @classmethod
    def describe(
        cls,
        stage: str,
        engine: Path,
        onnx: Path,
        target: EngineTarget,
        *,
        precision: str,
        tf32: bool,
        profiles: dict[str, dict[str, list[int]]],
        builder: dict[str, Any],
        built_on: str,
    ) -> EngineManifest:
        """The manifest of a freshly built ``engine`` file, compiled from ``onnx`` for ``target``."""
        return cls(
            stage=stage,
            engine_file=engine.name,
            engine_bytes=engine.stat().st_size,
            engine_sha256=sha256_file(engine),
            onnx_sha256=sha256_file(onnx),
            library=target.library,
            library_version=target.library_version,
            compute_capability=target.compute_capability,
            gpu_name=target.gpu_name,
            precision=precision,
            tf32=tf32,
            profiles=profiles,
            builder=builder,
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            built_on=built_on,
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
        except FileNotFoundError:
            raise StaleEngineError(f"{engine} has no manifest ({path.name}); it cannot be trusted. {REBUILD_HINT}")
        except ValueError as exc:
            raise StaleEngineError(f"unreadable engine manifest {path}: {exc}. {REBUILD_HINT}") from exc
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            found = raw.get("format") if isinstance(raw, dict) else None
            raise StaleEngineError(
                f"{path} has manifest format {found}, this kokoro-trt reads {FORMAT}. {REBUILD_HINT}"
            )
        try:
            return cls(**raw)
        except TypeError as exc:
            raise StaleEngineError(f"unreadable engine manifest {path}: {exc}. {REBUILD_HINT}") from exc

    @property
    def target(self) -> EngineTarget:
        return EngineTarget(self.library, self.library_version, self.compute_capability, self.gpu_name)


def stale_reasons(manifest: EngineManifest, engine: Path, target: EngineTarget, onnx_sha256: str) -> list[str]:
    """Why ``engine`` must not run on ``target`` for this graph (empty when it may)."""
    reasons = []
    if manifest.onnx_sha256 != onnx_sha256:
        reasons.append(
            f"built from a different {manifest.stage} graph (sha256 {manifest.onnx_sha256[:12]}…, "
            f"current {onnx_sha256[:12]}…)"
        )
    if (manifest.library, manifest.library_version) != (target.library, target.library_version):
        reasons.append(
            f"built with {manifest.library} {manifest.library_version}, this is {target.library} {target.library_version}"
        )
    if manifest.compute_capability != target.compute_capability:
        reasons.append(f"built for {manifest.target.arch}, this GPU is {target.arch}")
    if manifest.gpu_name and target.gpu_name and manifest.gpu_name != target.gpu_name:
        reasons.append(f"built on {manifest.gpu_name}, this GPU is {target.gpu_name}")
    size = engine.stat().st_size if engine.is_file() else None
    if size != manifest.engine_bytes:
        reasons.append(
            "engine file missing"
            if size is None
            else f"engine file is {size} bytes, manifest says {manifest.engine_bytes}"
        )
    return reasons


def check_engine(engine: Path, target: EngineTarget, onnx_sha256: str) -> EngineManifest:
    """The manifest of ``engine``; raises :class:`StaleEngineError` listing every reason it is stale
    (:class:`EngineArchitectureError` when it is current but for another architecture)."""
    manifest = EngineManifest.read(engine)
    reasons = stale_reasons(manifest, engine, target, onnx_sha256)
    if reasons == [f"built for {manifest.target.arch}, this GPU is {target.arch}"]:
        raise EngineArchitectureError(
            f"{engine} is for {manifest.target.arch}, this GPU is {target.arch}. " + build_hint(target)
        )
    if reasons:
        raise StaleEngineError(f"stale engine {engine}: " + "; ".join(reasons) + f". {REBUILD_HINT}")
    return manifest


def build_hint(target: EngineTarget) -> str:
    """The command that builds engines for ``target``."""
    if target.library == "tensorrt-rtx":
        return f"Build them on any machine with `kokoro-trt build --backend tensorrt-rtx --arch {target.arch}`."
    return "Build them on this GPU with `kokoro-trt build --backend tensorrt`."
