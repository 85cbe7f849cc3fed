"""The torch-free .pt reader and sha256 checks, against the official voice packs and crafted files."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kokoro_trt.errors import ChecksumError, KokoroError
from kokoro_trt.voices.checksums import read_sha256sums
from kokoro_trt.voices.torchfile import load_torch_tensor

torch = pytest.importorskip("torch")


def test_every_official_pack_matches_torch_load(voices_dir: Path) -> None:
    packs = sorted(voices_dir.glob("*.pt"))
    assert len(packs) == 54
    for path in packs:
        ours = load_torch_tensor(path)
        assert ours.shape == (510, 1, 256) and ours.dtype == np.float32, path.name
        np.testing.assert_array_equal(ours, torch.load(path, weights_only=True).numpy(), err_msg=path.name)


def test_official_checksums_verify(voices_dir: Path) -> None:
    sums = read_sha256sums(voices_dir / "SHA256SUMS")
    assert sorted(sums) == sorted(p.name for p in voices_dir.glob("*.pt"))
    for name, digest in sums.items():
        load_torch_tensor(voices_dir / name, sha256=digest)


def test_views_with_offset_and_stride_are_rebuilt(tmp_path: Path) -> None:
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    view = base[1:, ::3].t()  # storage offset 8, non-contiguous strides
    torch.save(view, tmp_path / "view.pt")
    np.testing.assert_array_equal(load_torch_tensor(tmp_path / "view.pt"), view.numpy())


def _replace_pickle(src: Path, dst: Path, payload: bytes) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, payload if item.filename.endswith("data.pkl") else zin.read(item))


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_refuses_arbitrary_globals_without_running_them(tmp_path: Path) -> None:
    torch.save(torch.zeros(2), tmp_path / "ok.pt")
    marker = tmp_path / "pwned"
    _replace_pickle(tmp_path / "ok.pt", tmp_path / "evil.pt", pickle.dumps(_Exploit(marker), protocol=2))
    with pytest.raises(KokoroError, match=r"evil\.pt.*refusing to load global"):
        load_torch_tensor(tmp_path / "evil.pt")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (lambda: torch.zeros(3, dtype=torch.float64), "DoubleStorage"),
        (lambda: {"pack": torch.zeros(3)}, "holds a dict"),
    ],
)
def test_refuses_anything_but_one_float32_tensor(tmp_path: Path, obj, reason: str) -> None:
    torch.save(obj(), tmp_path / "other.pt")
    with pytest.raises(KokoroError, match=reason):
        load_torch_tensor(tmp_path / "other.pt")


def test_truncated_file_names_file_and_fix(voices_dir: Path, tmp_path: Path) -> None:
    data = (voices_dir / "af_bella.pt").read_bytes()
    broken = tmp_path / "af_bella.pt"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(KokoroError, match=r"af_bella\.pt is not a valid torch.*kokoro-trt download"):
        load_torch_tensor(broken)


def test_checksum_mismatch_raises_checksum_error(voices_dir: Path, tmp_path: Path) -> None:
    digest = read_sha256sums(voices_dir / "SHA256SUMS")["af_bella.pt"]
    data = bytearray((voices_dir / "af_bella.pt").read_bytes())
    data[1000] ^= 0xFF
    corrupt = tmp_path / "af_bella.pt"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"af_bella\.pt is corrupt.*kokoro-trt download"):
        load_torch_tensor(corrupt, sha256=digest)


def test_malformed_checksum_list_is_reported(tmp_path: Path) -> None:
    sums = tmp_path / "SHA256SUMS"
    sums.write_text("abc123  af_bella.pt\n")
    with pytest.raises(KokoroError, match=r"SHA256SUMS:1"):
        read_sha256sums(sums)


def test_unreadable_path_is_a_kokoro_error(tmp_path: Path) -> None:
    with pytest.raises(KokoroError, match="missing.pt"):
        load_torch_tensor(tmp_path / "missing.pt")


def test_big_endian_archives_are_read(tmp_path: Path) -> None:
    values = np.arange(6, dtype=np.float32)
    torch.save(torch.from_numpy(values), tmp_path / "le.pt")
    with zipfile.ZipFile(tmp_path / "le.pt") as zin, zipfile.ZipFile(tmp_path / "be.pt", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.endswith("byteorder"):
                data = b"big"
            elif "/data/" in item.filename:
                data = values.astype(">f4").tobytes()
            zout.writestr(item, data)
    np.testing.assert_array_equal(load_torch_tensor(tmp_path / "be.pt"), values)


def test_storage_size_must_match_the_pickle(tmp_path: Path) -> None:
    torch.save(torch.zeros(8), tmp_path / "ok.pt")
    with zipfile.ZipFile(tmp_path / "ok.pt") as zin, zipfile.ZipFile(tmp_path / "short.pt", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            zout.writestr(item, data[:12] if "/data/" in item.filename else data)
    with pytest.raises(KokoroError, match=r"short\.pt.*storage 0 holds 12 bytes"):
        load_torch_tensor(tmp_path / "short.pt")
