"""VoiceStore: folder, hub and embedded sources, fallback, blends, styles and caching."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kokoro_trt.errors import (
    ChecksumError,
    InvalidInputError,
    KokoroError,
    ModelNotFoundError,
    VoiceNotFoundError,
)
from kokoro_trt.voices import DEFAULT_VOICE, FALLBACK_VOICE, STOCK_VOICES, VoiceStore
from kokoro_trt.voices import store as store_module

torch = pytest.importorskip("torch")


def reference(voices_dir: Path, name: str) -> np.ndarray:
    """The pack as the kokoro reference package loads it: torch.load, [510, 1, 256]."""
    return torch.load(voices_dir / f"{name}.pt", weights_only=True).numpy()


@pytest.fixture
def store(voices_dir: Path) -> VoiceStore:
    return VoiceStore(voices_dir)


@pytest.fixture
def hub_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool | None]]:
    """Make the hub unreachable and record what was asked of it."""
    calls: list[tuple[str, bool | None]] = []

    def unreachable(filename: str, *, local_files_only: bool | None = None, **_: object) -> Path:
        calls.append((filename, local_files_only))
        raise ModelNotFoundError(f"{filename} is not in the cache and the hub is unreachable")

    monkeypatch.setattr("kokoro_trt.assets.fetch_file", unreachable, raising=False)
    return calls


def test_stock_names_match_the_official_packs(voices_dir: Path, store: VoiceStore) -> None:
    assert len(STOCK_VOICES) == len(set(STOCK_VOICES)) == 54
    assert sorted(STOCK_VOICES) == sorted(p.stem for p in voices_dir.glob("*.pt"))
    assert store.names() == sorted(STOCK_VOICES)
    assert DEFAULT_VOICE in STOCK_VOICES


def test_pack_from_folder_equals_reference(voices_dir: Path, store: VoiceStore) -> None:
    pack = store.pack("af_sarah")
    assert pack.shape == (510, 256) and pack.dtype == np.float32
    np.testing.assert_array_equal(pack, reference(voices_dir, "af_sarah")[:, 0])
    assert not pack.flags.writeable
    np.testing.assert_array_equal(store.pack(), reference(voices_dir, DEFAULT_VOICE)[:, 0])


@pytest.mark.parametrize("n_phonemes", [1, 2, 77, 509, 510])
def test_style_is_row_n_minus_one_like_the_reference(voices_dir: Path, store: VoiceStore, n_phonemes: int) -> None:
    style = store.style("af_bella", n_phonemes)
    assert style.shape == (1, 256)
    np.testing.assert_array_equal(style, reference(voices_dir, "af_bella")[n_phonemes - 1])


@pytest.mark.parametrize("n_phonemes", [0, -1, 511, 2.0, True, "3"])
def test_style_rejects_bad_phoneme_counts(store: VoiceStore, n_phonemes: object) -> None:
    with pytest.raises(InvalidInputError, match="n_phonemes"):
        store.style("af_bella", n_phonemes)  # type: ignore[arg-type]


def test_blends_are_weighted_sums(voices_dir: Path, store: VoiceStore) -> None:
    sarah, jessica = (reference(voices_dir, n)[:, 0] for n in ("af_sarah", "af_jessica"))
    np.testing.assert_allclose(store.pack("af_sarah+af_jessica"), (sarah + jessica) / 2, rtol=1e-6, atol=1e-7)
    mixed = store.pack("af_sarah(0.3)+af_jessica(0.7)")
    assert mixed.dtype == np.float32 and mixed.shape == (510, 256)
    np.testing.assert_allclose(mixed, 0.3 * sarah + 0.7 * jessica, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(store.style("af_sarah(3)+af_jessica(7)", 10), mixed[9:10])


def test_packs_and_blends_are_cached(store: VoiceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[Path] = []
    real = store_module.load_torch_tensor

    def counting(path: Path, **kwargs: object) -> np.ndarray:
        reads.append(Path(path))
        return real(path, **kwargs)

    monkeypatch.setattr(store_module, "load_torch_tensor", counting)
    first = store.pack("af_sarah(0.3)+af_jessica(0.7)")
    assert len(reads) == 2
    assert store.pack("af_jessica(7)+af_sarah(3)") is first
    store.style("af_sarah(0.3)+af_jessica(0.7)", 5)
    assert len(reads) == 2


def test_cache_is_bounded(store: VoiceStore) -> None:
    for weight in range(1, store_module.CACHE_SIZE + 10):
        store.pack(f"af_sarah({weight})+af_bella")
    assert store._cached_pack.cache_info().currsize == store_module.CACHE_SIZE


def test_unknown_voice_lists_close_matches(store: VoiceStore) -> None:
    with pytest.raises(VoiceNotFoundError, match=r"Unknown voice 'af_sarahh'.*af_sarah"):
        store.pack("af_sarahh")
    with pytest.raises(VoiceNotFoundError, match="am_adm"):
        store.pack("af_sarah+am_adm")
    with pytest.raises(KeyError):
        store.pack("nobody")


def test_missing_voices_dir_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"nope.*kokoro-trt download"):
        VoiceStore(tmp_path / "nope")


def test_custom_voices_in_the_folder(voices_dir: Path, tmp_path: Path, hub_calls: list) -> None:
    custom = reference(voices_dir, "af_bella") * 0.5
    torch.save(torch.from_numpy(custom), tmp_path / "my_voice.pt")
    store = VoiceStore(tmp_path)
    assert "my_voice" in store.names() and "af_bella" in store.names()
    np.testing.assert_array_equal(store.pack("my_voice"), custom[:, 0])
    assert hub_calls == []


def test_folder_checksums_are_verified(voices_dir: Path, tmp_path: Path) -> None:
    shutil.copy(voices_dir / "af_bella.pt", tmp_path)
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  af_bella.pt\n")
    with pytest.raises(ChecksumError, match=r"af_bella\.pt"):
        VoiceStore(tmp_path).pack("af_bella")
    shutil.copy(voices_dir / "SHA256SUMS", tmp_path)
    assert VoiceStore(tmp_path).pack("af_bella").shape == (510, 256)


def test_not_a_voice_pack_is_reported(tmp_path: Path) -> None:
    torch.save(torch.zeros(510, 128), tmp_path / "af_bella.pt")
    with pytest.raises(KokoroError, match=r"af_bella\.pt is not a voice pack.*\[510, 128\]"):
        VoiceStore(tmp_path).pack("af_bella")


def test_hub_is_used_when_the_folder_lacks_the_voice(
    voices_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fetch(filename: str, *, local_files_only: bool | None = None, **_: object) -> Path:
        calls.append((filename, local_files_only))
        return voices_dir / Path(filename).name

    monkeypatch.setattr("kokoro_trt.assets.fetch_file", fetch, raising=False)
    store = VoiceStore(tmp_path, local_files_only=True)
    np.testing.assert_array_equal(store.pack("am_adam"), reference(voices_dir, "am_adam")[:, 0])
    assert calls == [("voices/am_adam.pt", True)]
    store_without_folder = VoiceStore()
    store_without_folder.pack("am_adam")
    assert calls[-1] == ("voices/am_adam.pt", None)


def test_default_voice_falls_back_to_jf_alpha_with_one_warning(
    voices_dir: Path, hub_calls: list, caplog: pytest.LogCaptureFixture
) -> None:
    store = VoiceStore()
    with caplog.at_level(logging.WARNING):
        pack = store.pack()
        store.pack(DEFAULT_VOICE)
        store.style(None, 12)
    np.testing.assert_array_equal(pack, reference(voices_dir, FALLBACK_VOICE)[:, 0])
    assert hub_calls == [(f"voices/{DEFAULT_VOICE}.pt", None)]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "kokoro-trt download" in warnings[0].getMessage() and "voices_dir=" in warnings[0].getMessage()


def test_other_missing_voices_are_errors_not_fallbacks(hub_calls: list, caplog: pytest.LogCaptureFixture) -> None:
    store = VoiceStore(local_files_only=True)
    with caplog.at_level(logging.WARNING):
        with pytest.raises(ModelNotFoundError, match=r"'am_adam' was found nowhere.*kokoro-trt download.*voices_dir="):
            store.pack("am_adam")
        with pytest.raises(ModelNotFoundError, match="af_bella"):
            store.pack(f"{DEFAULT_VOICE}+af_bella")
    assert hub_calls[0] == ("voices/am_adam.pt", True)
    assert not caplog.records


def test_japanese_voices_come_from_the_embedded_copy(voices_dir: Path, hub_calls: list) -> None:
    store = VoiceStore()
    for name in ("jf_alpha", "jm_kumo"):
        np.testing.assert_array_equal(store.pack(name), reference(voices_dir, name)[:, 0])
    assert hub_calls == []


def test_runtime_path_does_not_import_torch(voices_dir: Path) -> None:
    code = (
        "import sys\n"
        "from kokoro_trt.voices import VoiceStore, resolve_prosody, apply_pitch\n"
        f"VoiceStore({str(voices_dir)!r}).style('af_sarah(0.3)+af_jessica(0.7)', 10)\n"
        "resolve_prosody('rick_c137', 'sad')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
