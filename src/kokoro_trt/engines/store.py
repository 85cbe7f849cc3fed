"""Where engines live and how a complete, current set of them is found.

A *root* holds one folder per target (``tensorrt-rtx-1.7.1.116-sm86``, ``tensorrt-10.13.0.35-sm89-…``),
so one folder built on a CPU build box can be shipped to a fleet of different RTX GPUs: each node
loads the set for its own compute capability.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineArchitectureError, ModelNotFoundError, StaleEngineError
from ..graphs import STAGES, GraphSet
from ..storage import cache_dir, sha256_file
from .device import EngineTarget
from .manifest import EngineManifest, build_hint, check_engine

ENGINE_SUFFIX = ".engine"


def graph_key(graphs: GraphSet) -> str:
    """The export key of ``graphs`` (or a hash of its decoder when the manifest has none)."""
    return str(graphs.manifest.get("key") or sha256_file(graphs.path("decoder"))[:16])


def default_engine_root(graphs: GraphSet) -> Path:
    """``<cache>/engines/<graph key>``: the engine sets of one graph set, a folder per target."""
    return cache_dir() / "engines" / graph_key(graphs)


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
    def load(cls, directory: str | Path, graphs: GraphSet, target: EngineTarget) -> EngineSet:
        """Engines in ``directory`` for ``graphs`` on ``target``.

        Raises :class:`ModelNotFoundError` when none were built there, :class:`EngineArchitectureError`
        when they are for another compute capability, and :class:`StaleEngineError` when any is for
        another GPU, TensorRT version or graph. Never loads a stale engine.
        """
        directory = Path(directory)
        if not any(engine_path(directory, stage).exists() for stage in STAGES):
            raise ModelNotFoundError(
                f"no TensorRT engines in {directory} for {target.describe()}: {build_hint(target)}"
            )
        manifests = {
            stage: check_engine(engine_path(directory, stage), target, sha256_file(graphs.path(stage)))
            for stage in STAGES
        }
        return cls(directory, manifests)

    @classmethod
    def find(cls, root: str | Path, graphs: GraphSet, target: EngineTarget) -> EngineSet:
        """The set for ``target`` under ``root`` (a folder per target, or one set directly in ``root``).

        :class:`EngineArchitectureError` when ``root`` only holds sets of this library for other
        architectures, naming them and the build that is missing.
        """
        root = Path(root)
        if engine_path(root, "decoder").exists():
            return cls.load(root, graphs, target)
        directory = root / target.slug
        if directory.is_dir():
            return cls.load(directory, graphs, target)
        others = sorted(
            manifest.target.arch
            for manifest in map(_manifest_or_none, root.glob(f"*/decoder{ENGINE_SUFFIX}"))
            if manifest and (manifest.library, manifest.library_version) == (target.library, target.library_version)
        )
        if others:
            raise EngineArchitectureError(
                f"the engines in {root} are for {', '.join(others)}; this GPU is {target.arch}. {build_hint(target)}"
            )
        raise ModelNotFoundError(f"no TensorRT engines in {root} for {target.describe()}: {build_hint(target)}")


def _manifest_or_none(engine: Path) -> EngineManifest | None:
    try:
        return EngineManifest.read(engine)
    except StaleEngineError:  # an unreadable neighbour says nothing about this target
        return None
