"""Real TensorRT-for-RTX engine builds, ahead of time on this machine without a GPU.

The tiny model's graphs go through the CLI; the real Kokoro-82M graphs are built for the RTX 3060
(sm86), as CI does on every run, so a graph the builder rejects is caught here, not on a GPU node.
"""

from __future__ import annotations

import json

import pytest

from kokoro_trt.cli import main
from kokoro_trt.engines import EngineSet, build_engines, cross_target, load_library
from kokoro_trt.errors import BackendUnavailableError
from kokoro_trt.graphs import STAGES


@pytest.fixture(scope="module")
def rtx():
    try:
        return load_library("tensorrt-rtx")
    except BackendUnavailableError as exc:
        pytest.skip(f"TensorRT for RTX is not installed: {exc}")


def test_cli_cross_builds_several_architectures_and_reuses_them(rtx, tiny_graphs, tmp_path, capsys):
    out = tmp_path / "fleet"
    assert main(["build", "--graphs", str(tiny_graphs.directory), "--arch", "sm86", "sm89", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == [
        "tensorrt-rtx sm86 (fp32, TF32 off)",
        "tensorrt-rtx sm89 (fp32, TF32 off)",
    ]
    sets = sorted(p.name for p in out.iterdir())
    assert sets == [f"tensorrt-rtx-{rtx.version}-sm86", f"tensorrt-rtx-{rtx.version}-sm89"]
    engines = {p: p.stat().st_mtime_ns for p in out.glob("*/*.engine")}
    assert len(engines) == 6
    assert main(["build", "--graphs", str(tiny_graphs.directory), "--arch", "sm86", "sm89", "--out", str(out)]) == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*.engine")} == engines  # current: reused, not rebuilt


def test_cli_refuses_an_architecture_rtx_cannot_target(rtx, tiny_graphs, tmp_path, capsys):
    assert main(["build", "--graphs", str(tiny_graphs.directory), "--arch", "sm90", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot build for sm90" in err and "sm86" in err and "Traceback" not in err


@pytest.mark.slow
def test_real_graphs_build_for_the_rtx_3060(rtx, real_graphs, tmp_path):
    """The three Kokoro-82M graphs compile for sm86 in true FP32; the manifests say so."""
    engines = build_engines(real_graphs, tmp_path, library="tensorrt-rtx", arch="sm86", progress=False)
    assert set(engines.manifests) == set(STAGES)
    for stage, manifest in engines.manifests.items():
        raw = json.loads((engines.directory / f"{stage}.engine.json").read_text())
        assert raw["precision"] == "fp32" and raw["tf32"] is False
        assert raw["library"] == "tensorrt-rtx" and raw["library_version"] == rtx.version
        assert raw["compute_capability"] == "8.6" and raw["gpu_name"] == ""
        assert raw["onnx_sha256"] == manifest.onnx_sha256 and len(raw["onnx_sha256"]) == 64
        assert raw["built_on"] == "no GPU (ahead of time)"
        assert engines.path(stage).stat().st_size == raw["engine_bytes"] > 1_000_000
    # What a node with an RTX 3060 does before it loads them: the set is current for its target.
    reloaded = EngineSet.find(tmp_path, real_graphs, cross_target(rtx, "sm86"))
    assert reloaded.directory == engines.directory
