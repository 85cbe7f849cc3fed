"""Benchmarks reuse the test fixtures (registered in the root ``conftest.py``) and collect ``bench_*.py``.

``pytest benchmarks/`` from the repo root runs every benchmark file; name one to run only it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"


@pytest.fixture(scope="session")
def real_graphs():
    """As the test fixture, but from the export cache ($KOKORO_TRT_CACHE): ~30 s saved per run."""
    from kokoro_trt.assets import resolve_weights
    from kokoro_trt.export.pipeline import export_model

    return export_model(resolve_weights(local_files_only=True), progress=False)


@pytest.fixture(scope="module", autouse=True)
def _write_results(request):
    """After a ``bench_<name>.py`` module: its ``_results`` dict, if filled, as ``results/<name>.json``."""
    yield
    results = getattr(request.module, "_results", None)
    if results:
        RESULTS_DIR.mkdir(exist_ok=True)
        name = request.module.__name__.rpartition(".")[2].removeprefix("bench_")
        (RESULTS_DIR / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
