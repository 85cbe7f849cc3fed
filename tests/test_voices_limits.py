"""Issue 13: voice specs and voice files are bounded, so none reaches the audio as noise or the
machine as an out-of-memory; every refusal is an InvalidInputError, never an OSError."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kokoro_trt.errors import InvalidInputError
from kokoro_trt.voices import VoiceStore, parse_blend
from kokoro_trt.voices.torchfile import MAX_BYTES, load_torch_tensor


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("af_heart(1e308)+af_sky(1e308)", "finite"),  # the total overflows: loud noise before
        ("af_heart(1e308)+af_bella(1e308)+af_sky(1)", "finite"),  # NaN audio before
        ("af_heart(1e308)+af_heart(1e308)", "finite"),  # a repeated name overflows alone
        ("af_heart(1e9)+af_sky(-999999999)", "at most 10 times"),  # sums to 1, scales a style 1e9 x
        ("+".join(["af_heart"] * 9), "at most 8"),
    ],
)
def test_blend_weights_are_bounded(spec: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        parse_blend(spec)


def test_eight_voices_and_modest_extrapolation_still_blend() -> None:
    assert len(parse_blend("+".join(f"v{i}" for i in range(8))).parts) == 8
    assert dict(parse_blend("af_heart(3)+af_sky(-2)").parts) == {"af_heart": 3.0, "af_sky": -2.0}


@pytest.mark.parametrize(
    "name", ["a" * 300, "../" * 100 + "etc/passwd", "/etc/passwd", "voices/af_heart.pt", "af_heart\0"]
)
def test_overlong_or_path_like_names_are_invalid_input(voices_dir: Path, name: str) -> None:
    store = VoiceStore(voices_dir, local_files_only=True)
    with pytest.raises(InvalidInputError):
        store.pack(name)
    with pytest.raises(InvalidInputError):
        store.pack(f"af_heart+{name}")


def _deflate_bomb(path: Path, rows: int) -> int:
    """A torch.save'd float32 ``[rows, 1, 256]`` pack, recompressed: zeros deflate ~1000:1."""
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    torch.save(torch.zeros(rows, 1, 256), buffer)
    with zipfile.ZipFile(buffer) as plain, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in plain.infolist():
            bomb.writestr(info.filename, plain.read(info))
    return rows * 256 * 4


def test_a_deflate_bomb_is_refused_before_it_inflates(tmp_path: Path) -> None:
    path = tmp_path / "af_bomb.pt"
    inflated = _deflate_bomb(path, rows=65_536)  # 64 MB inside a file of ~0.1 MB
    assert path.stat().st_size < MAX_BYTES < inflated
    with pytest.raises(InvalidInputError, match="inflates to 67 MB"):
        load_torch_tensor(path)
    with pytest.raises(InvalidInputError):
        VoiceStore(tmp_path).pack("af_bomb")


def test_a_small_compressed_pack_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "af_small.pt"
    _deflate_bomb(path, rows=510)
    assert VoiceStore(tmp_path).pack("af_small").shape == (510, 256)


def test_an_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "af_huge.pt"
    path.write_bytes(np.zeros(MAX_BYTES + 1, np.uint8).tobytes())
    with pytest.raises(InvalidInputError, match="over 4 MB"):
        load_torch_tensor(path)
