"""Where an export of given weights and config lives in the cache, found without importing torch.

The key covers the weights file, the config and the export code (its source files and torch's
version), so changing any of them exports anew and an old graph set is never reused by mistake.
Loading graphs that are already cached imports none of the exporter (torch, kokoro: ~0.6 s or more).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from ..assets import WeightsSource, cache_dir
from ..config import ModelConfig
from ..graphs import GraphSet
from ..storage import sha256_file, sha256_text

CODE_FILES = (
    "key.py",
    "stages.py",
    "snake.py",
    "source.py",
    "stft.py",
    "onnx_export.py",
    "kmodel.py",
    "importer.py",
    "weight_mapping.py",
    "onnx_weights.py",
)
"""The modules of this folder that shape the exported graphs."""


def code_sha256() -> str:
    digest = hashlib.sha256(f"torch {version('torch')}".encode())
    here = Path(__file__).parent
    for name in CODE_FILES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ExportKey:
    """The inputs of one export and the cache folder they map to."""

    parts: dict[str, str]
    key: str

    @classmethod
    def of(cls, weights: WeightsSource, config: ModelConfig) -> ExportKey:
        """The key of ``weights`` and ``config``; the weights are hashed unless their source already did."""
        parts = {
            "weights_sha256": weights.sha256 or sha256_file(weights.path),
            "config_sha256": sha256_text(config.to_json()),
            "code_sha256": code_sha256(),
        }
        return cls(parts, sha256_text(json.dumps(parts, sort_keys=True))[:16])

    def default_dir(self) -> Path:
        return cache_dir() / "graphs" / self.key

    def find(self, directory: Path) -> GraphSet | None:
        """The graph set of this key in ``directory``; ``None`` when absent or of another key.

        Raises :class:`~kokoro_trt.errors.CorruptFileError` when it is damaged (see :meth:`GraphSet.find`).
        """
        graphs = GraphSet.find(directory)
        return graphs if graphs is not None and graphs.manifest.get("key") == self.key else None
