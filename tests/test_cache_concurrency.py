"""Issue 13: processes sharing one cache neither collide nor duplicate work, and leftovers go away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kokoro_trt.assets import fallback, offline_weights
from kokoro_trt.storage import atomic_write

TESTS = Path(__file__).resolve().parent

_EXPORT = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
from kokoro_trt.export.pipeline import export_model
from tests.tiny_model import tiny_config
export_model(sys.argv[1], tiny_config(), out_dir=sys.argv[2], progress=False)
"""


def test_two_processes_on_one_empty_cache_export_once(tiny_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "graphs"
    leftover = tmp_path / ".graphs.killed.tmp"  # the staging folder of an export killed earlier
    leftover.mkdir()
    (leftover / "decoder.onnx").write_bytes(b"half a graph")
    env = {**os.environ, "KOKORO_TRT_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(TESTS)}
    command = [sys.executable, "-c", _EXPORT, str(tiny_weights), str(out)]
    runs = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    logs = [run.communicate(timeout=600)[1] for run in runs]

    assert [run.returncode for run in runs] == [0, 0], logs
    assert sum("exported graphs to" in log for log in logs) == 1, logs
    assert sum("using cached graphs" in log for log in logs) == 1, logs
    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "graphs"]


def test_a_killed_assembly_leaves_nothing_behind(tmp_path: Path) -> None:
    weights = offline_weights(tmp_path)
    orphan = tmp_path / f".{fallback.FALLBACK_FILE}.k1ll3d.tmp"  # what a kill mid-assembly leaves
    orphan.write_bytes(b"\0" * (1 << 20))
    assert offline_weights(tmp_path) == weights
    assert not orphan.exists()


def test_temporaries_have_unique_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (seen.append(Path(src).name), real_replace(src, dst)))
    target = tmp_path / "prosody.onnx"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert len(set(seen)) == 2 and all(name.startswith(".prosody.onnx.") for name in seen)
    assert target.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == ["prosody.onnx"]
