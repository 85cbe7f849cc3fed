"""A directory of exported stage graphs and its manifest; readable without torch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelNotFoundError

MANIFEST_NAME = "manifest.json"
STAGES = ("duration", "prosody", "decoder")


@dataclass(frozen=True)
class GraphSet:
    """The ``duration``, ``prosody`` and ``decoder`` ONNX graphs of one export."""

    directory: Path
    manifest: dict[str, Any]

    def path(self, stage: str) -> Path:
        return self.directory / self.manifest["graphs"][stage]["file"]

    @property
    def samples_per_frame(self) -> int:
        return int(self.manifest["samples_per_frame"])

    @classmethod
    def find(cls, directory: str | Path) -> GraphSet | None:
        """The graph set in ``directory``, or ``None`` when it is absent or incomplete."""
        directory = Path(directory)
        try:
            manifest = json.loads((directory / MANIFEST_NAME).read_text())
            graphs = cls(directory, manifest)
            if all(graphs.path(stage).is_file() for stage in STAGES):
                return graphs
        except (OSError, ValueError, KeyError):
            pass
        return None

    @classmethod
    def load(cls, directory: str | Path) -> GraphSet:
        graphs = cls.find(directory)
        if graphs is None:
            raise ModelNotFoundError(
                f"No exported graphs in {directory}. Run `kokoro-trt export` (needs `pip install kokoro-trt[export]`)."
            )
        return graphs
