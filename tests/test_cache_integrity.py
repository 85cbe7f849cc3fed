"""Issue 13: a damaged cache is detected, quarantined and rebuilt, never served as silence."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest

from kokoro_trt.assets import fallback, offline_weights
from kokoro_trt.errors import ChecksumError, CorruptFileError
from kokoro_trt.graphs import MANIFEST_NAME, STAGES, VERIFIED_NAME, GraphSet
from kokoro_trt.storage import sha256_file


def _damage(path: Path, at: int = 0, length: int = 4096) -> None:
    """Overwrite ``length`` bytes at ``at`` with zeros: same size, different content."""
    with path.open("r+b") as f:
        f.seek(at)
        f.write(b"\0" * length)


@pytest.fixture
def fake_graphs(tmp_path: Path) -> Path:
    """A graph folder with placeholder graphs and a manifest recording their sha256."""
    directory = tmp_path / "graphs"
    directory.mkdir()
    entries = {}
    for stage in STAGES:
        path = directory / f"{stage}.onnx"
        path.write_bytes(os.urandom(64 << 10))
        entries[stage] = {"file": path.name, "sha256": sha256_file(path)}
    (directory / MANIFEST_NAME).write_text(json.dumps({"samples_per_frame": 600, "graphs": entries}))
    return directory


def test_same_size_damage_to_a_graph_is_a_typed_error(fake_graphs: Path) -> None:
    GraphSet.load(fake_graphs)  # verified and stamped
    _damage(fake_graphs / "decoder.onnx", at=1024)
    with pytest.raises(CorruptFileError, match="decoder.onnx") as caught:
        GraphSet.load(fake_graphs)
    assert caught.value.paths == (str(fake_graphs / "decoder.onnx"),)
    assert isinstance(caught.value, ChecksumError)


def test_an_unchanged_stamp_skips_the_hash(fake_graphs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    GraphSet.load(fake_graphs)
    assert set(json.loads((fake_graphs / VERIFIED_NAME).read_text())) == {f"{s}.onnx" for s in STAGES}
    monkeypatch.setattr("kokoro_trt.storage.sha256_file", lambda p: pytest.fail(f"rehashed {p}"))
    GraphSet.load(fake_graphs)


def test_a_touched_but_intact_graph_is_rehashed_and_accepted(fake_graphs: Path) -> None:
    GraphSet.load(fake_graphs)
    decoder = fake_graphs / "decoder.onnx"
    os.utime(decoder, ns=(0, decoder.stat().st_mtime_ns + 10**9))
    assert GraphSet.load(fake_graphs).path("decoder") == decoder


def test_damaged_cached_graph_is_quarantined_and_exported_again(
    tiny_weights: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from kokoro_trt.export.pipeline import export_model
    from tests.tiny_model import tiny_config

    out = tmp_path / "graphs"
    first = export_model(tiny_weights, tiny_config(), out_dir=out, progress=False)
    decoder = first.path("decoder")
    good = sha256_file(decoder)
    _damage(decoder, at=decoder.stat().st_size // 2, length=64 << 10)

    with caplog.at_level(logging.WARNING):
        again = export_model(tiny_weights, tiny_config(), out_dir=out, progress=False)
    assert sha256_file(again.path("decoder")) == good  # the export is deterministic
    assert (out / "decoder.onnx.corrupt").is_file()
    assert "decoder.onnx" in caplog.text and "moved it aside" in caplog.text


def test_same_size_damage_to_assembled_weights_is_reassembled(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    weights = offline_weights(tmp_path)
    good = sha256_file(weights)
    size = weights.stat().st_size
    _damage(weights, at=size // 2, length=4 << 20)
    assert weights.stat().st_size == size  # what the size-only sidecar check let through

    with caplog.at_level(logging.WARNING):
        assert offline_weights(tmp_path) == weights
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == good
    assert (tmp_path / f"{fallback.FALLBACK_FILE}.corrupt").stat().st_size == size
    assert "moved it aside" in caplog.text
