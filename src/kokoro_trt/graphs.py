"""A directory of exported stage graphs and its manifest; readable without torch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CorruptFileError, ModelNotFoundError
from .storage import mismatched_files

MANIFEST_NAME = "manifest.json"
VERIFIED_NAME = "verified.json"
"""Stamps of the graphs that last matched their manifest's sha256 (see :func:`mismatched_files`)."""
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

    def verify(self) -> None:
        """Raise :class:`CorruptFileError` naming every graph whose content no longer hashes to the
        sha256 its manifest recorded at export (a damaged graph runs, and speaks silence or noise).

        Hashing the ~350 MB in full takes ~0.4 s, so a graph is rehashed only when its (size, mtime_ns)
        differs from the stamp recorded when it last passed (``verified.json``).
        """
        expected = {
            self.path(stage): entry["sha256"]
            for stage, entry in self.manifest["graphs"].items()
            if stage in STAGES and "sha256" in entry
        }
        bad = mismatched_files(expected, self.directory / VERIFIED_NAME)
        if bad:
            names = ", ".join(path.name for path in bad)
            raise CorruptFileError(
                f"{names} in {self.directory} no longer match the sha256 in {MANIFEST_NAME}: the files were "
                "damaged after export. Export them again (`kokoro-trt export --force`, with `--out` for "
                "this folder).",
                tuple(str(path) for path in bad),
            )

    @classmethod
    def find(cls, directory: str | Path) -> GraphSet | None:
        """The graph set in ``directory``, or ``None`` when it is absent or incomplete.

        Raises :class:`CorruptFileError` when it is complete but damaged (see :meth:`verify`).
        """
        directory = Path(directory)
        try:
            manifest = json.loads((directory / MANIFEST_NAME).read_text())
            graphs = cls(directory, manifest)
            if not all(graphs.path(stage).is_file() for stage in STAGES):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        graphs.verify()
        return graphs

    @classmethod
    def load(cls, directory: str | Path) -> GraphSet:
        graphs = cls.find(directory)
        if graphs is None:
            raise ModelNotFoundError(
                f"No exported graphs in {directory}. Run `kokoro-trt export` (needs `pip install kokoro-trt[export]`)."
            )
        return graphs
