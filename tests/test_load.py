"""``load_kokoro``'s own speed paths: cached graphs without the exporter, G2P beside the sessions."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path

from kokoro_trt.assets import resolve_weights
from kokoro_trt.export.key import ExportKey
from kokoro_trt.graphs import MANIFEST_NAME
from kokoro_trt.runtime import load as load_module
from kokoro_trt.text import TextFrontend
from tests.fresh_python import run_python
from tests.tiny_model import tiny_config


def _fail(*args, **kwargs):
    raise AssertionError("must not be called")


def test_cached_graphs_load_without_the_exporter(tiny_weights, tiny_graphs, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("KOKORO_TRT_CACHE", str(tmp_path))
    key = ExportKey.of(resolve_weights(tiny_weights), tiny_config())
    shutil.copytree(tiny_graphs.directory, key.default_dir())
    monkeypatch.setitem(sys.modules, "kokoro_trt.export.pipeline", None)  # importing it now fails
    monkeypatch.setattr(load_module, "_cached_graphs", _fail)
    graphs = load_module.resolve_graphs(weights=tiny_weights, config=tiny_config())
    assert graphs.directory == key.default_dir()


def test_g2p_loads_while_the_sessions_build(tiny_graphs, voices_dir, monkeypatch):
    g2p_started = threading.Event()
    real_load, real_select = TextFrontend.load, load_module.select_backend

    def load(self):
        g2p_started.set()
        return real_load(self)

    def select(*args, **kwargs):
        assert g2p_started.wait(timeout=30), "the sessions were built before the G2P started loading"
        return real_select(*args, **kwargs)

    monkeypatch.setattr(TextFrontend, "load", load)
    monkeypatch.setattr(load_module, "select_backend", select)
    model = load_module.load_kokoro("cpu", graphs=tiny_graphs.directory, voices_dir=voices_dir)
    assert model.frontend.lang == "en-us"


def test_a_model_given_by_paths_loads_without_the_download_or_progress_code(tiny_graphs, voices_dir):
    """Graphs and voices given as paths are never downloaded, so huggingface_hub's downloading half
    (``hf_hub_download``, its errors and their HTTP client, ~0.1 s of imports) stays out of the load
    (in a fresh interpreter), and so do the progress bars of downloads and engine builds (``tqdm.auto``, ~0.03 s)."""
    download_code = ("huggingface_hub.file_download", "huggingface_hub.errors", "tqdm.auto")
    out = run_python(
        f"""
        import sys
        from kokoro_trt.runtime import load_kokoro
        load_kokoro("cpu", graphs={str(tiny_graphs.directory)!r}, voices_dir={str(voices_dir)!r})
        print([name for name in {download_code!r} if name in sys.modules])
        """
    )
    assert out.splitlines()[-1] == "[]"


def test_without_the_exporter_the_newest_export_of_the_same_weights_is_taken(tiny_graphs, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("KOKORO_TRT_CACHE", str(tmp_path))
    manifest = json.loads((tiny_graphs.directory / MANIFEST_NAME).read_text())
    for age, name in enumerate(["newer", "older"]):  # the older export came from older export code
        copy = shutil.copytree(tiny_graphs.directory, tmp_path / "graphs" / name)
        (copy / MANIFEST_NAME).write_text(json.dumps({**manifest, "weights_sha256": "w", "config_sha256": "c"}))
        os.utime(copy / MANIFEST_NAME, (1e9 - age, 1e9 - age))
    assert load_module._cached_graphs("w", "c", tmp_path / "weights.pth").directory.name == "newer"


def test_without_the_exporter_the_weights_are_hashed_once(tiny_weights, tiny_graphs, tmp_path: Path, monkeypatch):
    """The export key and the fallback to a previous export share one hash of the weights file."""
    from kokoro_trt.export import key as key_module
    from kokoro_trt.storage import sha256_file, sha256_text

    monkeypatch.setenv("KOKORO_TRT_CACHE", str(tmp_path))
    config = tiny_config()
    manifest = json.loads((tiny_graphs.directory / MANIFEST_NAME).read_text())
    previous = shutil.copytree(tiny_graphs.directory, tmp_path / "graphs" / "previous")  # not the current key's
    weights_sha256, config_sha256 = sha256_file(tiny_weights), sha256_text(config.to_json())
    (previous / MANIFEST_NAME).write_text(
        json.dumps({**manifest, "weights_sha256": weights_sha256, "config_sha256": config_sha256})
    )
    hashed: list[Path] = []

    def counting(path):
        hashed.append(Path(path))
        return sha256_file(path)

    monkeypatch.setattr(load_module, "sha256_file", counting)
    monkeypatch.setattr(key_module, "sha256_file", counting)
    monkeypatch.setitem(sys.modules, "kokoro_trt.export.pipeline", None)  # importing it now fails
    graphs = load_module.resolve_graphs(weights=tiny_weights, config=config)
    assert graphs.directory == previous
    assert hashed == [Path(tiny_weights)]
