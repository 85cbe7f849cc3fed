"""The export cache key: every graph-shaping module counts, and a hash already checked is not repeated."""

from __future__ import annotations

from pathlib import Path

import pytest

from kokoro_trt.assets import WeightsSource
from kokoro_trt.config import ModelConfig
from kokoro_trt.export import key as key_module
from kokoro_trt.export.key import CODE_FILES, ExportKey

NOT_SHAPING = {"__init__.py", "inventory.py", "pipeline.py"}
"""Modules of export/ that check or orchestrate but never change what a graph computes."""


def _fail(*args, **kwargs):
    raise AssertionError("must not be called")


def test_every_graph_shaping_module_is_in_the_key():
    here = Path(key_module.__file__).parent
    assert {p.name for p in here.glob("*.py")} - NOT_SHAPING == set(CODE_FILES)


def test_key_reuses_a_hash_the_source_already_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "w.pth"
    path.write_bytes(b"x")
    monkeypatch.setattr(key_module, "sha256_file", _fail)
    key = ExportKey.of(WeightsSource(path, "pth", "path", "ab" * 32), ModelConfig.default())
    assert key.parts["weights_sha256"] == "ab" * 32
