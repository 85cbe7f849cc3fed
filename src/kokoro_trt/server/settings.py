"""Server settings: one frozen object, filled from arguments and ``KOKORO_TRT_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

API_KEY_ENV = "KOKORO_TRT_API_KEY"


def _env_api_key() -> str | None:
    return os.environ.get(API_KEY_ENV) or None


@dataclass(frozen=True)
class Settings:
    """How the HTTP service behaves; the model itself is configured by the loader.

    ``api_key``: require ``Authorization: Bearer <key>`` (off when ``None``; defaults to
    ``$KOKORO_TRT_API_KEY``). ``queue_size``: requests admitted at once (running + waiting) before
    answering 503. ``cache_size``: finished syntheses kept for repeated identical requests (0: off).
    ``workers``: inference threads sharing the one model. ``max_input_chars``: longest ``input``.
    """

    api_key: str | None = field(default_factory=_env_api_key)
    queue_size: int = 16
    cache_size: int = 128
    workers: int = 2
    max_input_chars: int = 4096
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {self.queue_size}")
        if self.cache_size < 0:
            raise ValueError(f"cache_size must be non-negative, got {self.cache_size}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
