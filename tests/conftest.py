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
