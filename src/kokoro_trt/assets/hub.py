"""Hugging Face Hub access: the local HF cache first, a download only when allowed."""

from __future__ import annotations

import functools
import logging
import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from huggingface_hub import constants

from ..errors import InvalidInputError, ModelNotFoundError

logger = logging.getLogger(__name__)

DEFAULT_REPO = "hexgrad/Kokoro-82M"
WEIGHTS_FILE = "kokoro-v1_0.pth"
CONFIG_FILE = "config.json"

FIX = (
    "Pass a local path instead, run `kokoro-trt download` while online, "
    "or set HF_ENDPOINT to a reachable Hugging Face mirror."
)

# huggingface_hub's downloading half (hf_hub_download, its errors: ~0.1 s of imports, httpx among them) is
# imported where it is used: loading a model whose files are given as paths never needs it.


def hf_hub_download(*args: Any, **kwargs: Any) -> str:
    """``huggingface_hub.hf_hub_download``, imported on first use."""
    from huggingface_hub import hf_hub_download as download

    return download(*args, **kwargs)


def _hub_errors() -> tuple[type[Exception], ...]:
    """What hf_hub_download raises when a file cannot be had: network and HTTP errors (OSError), 404s, bad ids."""
    from huggingface_hub.errors import EntryNotFoundError, HFValidationError

    return (OSError, EntryNotFoundError, HFValidationError)


def is_offline(local_files_only: bool | None = None) -> bool:
    """True if downloads are off: ``local_files_only`` or ``HF_HUB_OFFLINE`` (read now, not at import)."""
    if local_files_only:
        return True
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}
    return env or bool(constants.HF_HUB_OFFLINE)


def cached_file(filename: str, *, repo_id: str = DEFAULT_REPO, cache_dir: Path | None = None) -> Path | None:
    """The file from the local Hugging Face cache, or None; never touches the network."""
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo_id, filename, cache_dir=cache_dir, local_files_only=True))
    except LocalEntryNotFoundError:
        return None
    except HFValidationError as exc:
        raise InvalidInputError(f"Invalid Hugging Face repo id or filename: {exc}") from exc


@functools.lru_cache(maxsize=4)
def hub_reachable(endpoint: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the Hub opens within ``timeout`` (asked once per process).

    huggingface_hub retries a dead network for ~20 s per file; one quick probe lets an offline
    machine go straight to its local fallbacks.
    """
    url = urlparse(endpoint)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError as exc:
        logger.warning("The Hugging Face Hub (%s) is unreachable (%s); using local files only.", endpoint, exc)
        return False


def download_file(filename: str, *, repo_id: str = DEFAULT_REPO, cache_dir: Path | None = None) -> Path:
    """Download into the Hugging Face cache; any failure becomes :class:`ModelNotFoundError`."""
    if not hub_reachable(constants.ENDPOINT):
        raise ModelNotFoundError(f"Could not download {filename!r} from {repo_id!r}: the Hub is unreachable. {FIX}")
    try:
        return Path(hf_hub_download(repo_id, filename, cache_dir=cache_dir))
    except _hub_errors() as exc:
        raise ModelNotFoundError(f"Could not download {filename!r} from {repo_id!r}: {exc}. {FIX}") from exc


def fetch_file(
    filename: str,
    *,
    repo_id: str = DEFAULT_REPO,
    local_files_only: bool | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Path of ``filename`` from ``repo_id``: the HF cache first, then a download unless offline.

    ``local_files_only=None`` follows ``HF_HUB_OFFLINE``. Raises :class:`ModelNotFoundError`.
    """
    path = cached_file(filename, repo_id=repo_id, cache_dir=cache_dir)
    if path is not None:
        return path
    if is_offline(local_files_only):
        raise ModelNotFoundError(
            f"{filename!r} from {repo_id!r} is not in the Hugging Face cache and downloads are off "
            f"(local_files_only or HF_HUB_OFFLINE). {FIX}"
        )
    logger.info("Downloading %s from %s", filename, repo_id)
    return download_file(filename, repo_id=repo_id, cache_dir=cache_dir)


def download_model(
    repo_id: str = DEFAULT_REPO,
    *,
    voices: Iterable[str] | None = None,
    local_files_only: bool = False,
) -> Path:
    """Fetch weights, config and voice packs (all of them if ``voices`` is None) into the HF cache.

    Returns the snapshot folder. Raises :class:`ModelNotFoundError` if anything is missing.
    """
    from huggingface_hub import snapshot_download  # ~0.15 s of imports that loading never needs

    wanted = [WEIGHTS_FILE, CONFIG_FILE]
    wanted += ["voices/*.pt"] if voices is None else [f"voices/{name}.pt" for name in voices]
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=wanted, local_files_only=local_files_only))
    except _hub_errors() as exc:
        raise ModelNotFoundError(f"Could not download {repo_id!r}: {exc}. {FIX}") from exc
    missing = [name for name in wanted if "*" not in name and not (folder / name).is_file()]
    if missing:
        raise ModelNotFoundError(f"{repo_id!r} has no {', '.join(missing)}. Check the file and voice names.")
    return folder
