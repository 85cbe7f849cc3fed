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
    from asr import Asr

    try:
        return Asr()
    except ModuleNotFoundError as exc:
        pytest.skip(f"{exc.name} is missing: pip install -e '.[dev]'")
