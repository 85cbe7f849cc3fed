"""Server settings: one frozen object, filled from arguments, then ``KOKORO_TRT_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "KOKORO_TRT_"
API_KEY_ENV = f"{ENV_PREFIX}API_KEY"


class Settings(BaseSettings):
    """How the HTTP service behaves and which model it loads.

    Every field can be set as an argument or as ``KOKORO_TRT_<FIELD>`` in the environment (arguments
    win); ``cors_origins`` takes a comma-separated list there. See ``docs/server.md`` for each one.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8880, ge=0, le=65535)
    device: str = "auto"
    graphs: Path | None = None
    weights: Path | None = None
    voices_dir: Path | None = None
    lang: str = Field(
        "en-us", description="the language of voices that name none (custom packs); stock voices read their own"
    )
    log_level: str = "info"

    api_key: str | None = Field(None, description="require 'Authorization: Bearer <key>' on /v1 routes")
    queue_size: int = Field(16, ge=1, description="requests admitted at once (running + waiting) before 503")
    cache_bytes: int = Field(64 * 2**20, ge=0, description="audio kept for repeated requests, in bytes; 0: off")
    workers: int = Field(2, ge=1, description="inference threads sharing the one model")
    decode_window_seconds: float | None = Field(
        None, ge=1, allow_inf_nan=False, description="render long chunks in decoder calls of at most this much audio"
    )
    precision: Literal["fp32", "int8"] = Field(
        "fp32", description="int8: the INT8 decoder on ONNX Runtime CPU (device cpu or auto); see docs/int8.md"
    )
    max_input_chars: int = Field(10_000, ge=1, description="longest input; longer requests get 400")
    max_audio_seconds: float | None = Field(None, gt=0, description="cut audio at a sentence past this; None: no cap")
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field((), description="origins allowed by CORS; empty: off")
    lexicon: Path | None = Field(None, description="YAML/JSON pronunciation dictionary (word → phonemes)")
    retry_after_s: int = Field(1, ge=0)
    max_body_bytes: int = Field(
        2 * 2**20, ge=1024, description="largest request body (and WebSocket frame); larger gets 413"
    )
    ws_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="browser origins allowed on the WebSocket besides the server's own, localhost and "
        "cors_origins; '*': any",
    )
    ws_buffer_chars: int = Field(
        65_536, ge=1, description="unspoken WebSocket text held at once; more gets a buffer_full error"
    )
    load_attempts: int = Field(5, ge=1, description="tries at loading the model before giving up")
    load_backoff_s: float = Field(
        1.0, ge=0, description="wait before the second try, doubled before each later one (at most 60 s)"
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return value or None

    @field_validator("cors_origins", "ws_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value
