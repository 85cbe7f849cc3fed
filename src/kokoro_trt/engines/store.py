"""Where engines live and how a complete, current set of them is found."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..assets import cache_dir
from ..errors import ModelNotFoundError
from ..graphs import STAGES, GraphSet
from ..hashing import sha256_file
from .device import DeviceInfo
from .manifest import EngineManifest, check_engine

ENGINE_SUFFIX = ".engine"


def graph_key(graphs: GraphSet) -> str:
    """The export key of ``graphs`` (or a hash of its decoder when the manifest has none)."""
    return str(graphs.manifest.get("key") or sha256_file(graphs.path("decoder"))[:16])


def default_engine_dir(graphs: GraphSet, device: DeviceInfo) -> Path:
    """``<cache>/engines/<graph key>/<gpu>-sm<cc>-trt<version>``: one folder per graph set and GPU."""
    return cache_dir() / "engines" / graph_key(graphs) / device.slug


def engine_path(directory: Path, stage: str) -> Path:
    return Path(directory) / f"{stage}{ENGINE_SUFFIX}"


@dataclass(frozen=True)
class EngineSet:
    """The three engines of one graph set, each checked against its manifest."""

    directory: Path
    manifests: dict[str, EngineManifest]

    def path(self, stage: str) -> Path:
        return engine_path(self.directory, stage)

    @classmethod
    def load(cls, directory: str | Path, graphs: GraphSet, device: DeviceInfo) -> EngineSet:
        """Engines in ``directory`` for ``graphs`` on ``device``.

        Raises :class:`ModelNotFoundError` when none were built there and :class:`StaleEngineError`
        when any is for another GPU, TensorRT version or graph. Never loads a stale engine.
        """
        directory = Path(directory)
        if not any(engine_path(directory, stage).exists() for stage in STAGES):
            raise ModelNotFoundError(
                f"no TensorRT engines in {directory} for {device.describe()}: run `kokoro-trt build`"
            )
        manifests = {
            stage: check_engine(engine_path(directory, stage), device, sha256_file(graphs.path(stage)))
            for stage in STAGES
        }
        return cls(directory, manifests)
