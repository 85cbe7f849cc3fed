"""Read a torch ``.pt`` file holding one float32 tensor, without torch.

A ``torch.save`` file is a zip archive: ``<root>/data.pkl`` pickles the tensor as a call to
``torch._utils._rebuild_tensor_v2`` on a persistent storage id, and ``<root>/data/<key>`` holds the
storage's raw bytes. The unpickler below resolves only the few globals such a file needs and
refuses everything else, so reading a hostile file cannot run code, and the file and what its members
inflate to are capped at :data:`MAX_BYTES`, so it cannot exhaust memory either.
"""

from __future__ import annotations

import io
import pickle
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import InvalidInputError, KokoroError
from .checksums import verify_sha256

MAX_BYTES = 4 << 20
"""Largest voice file, and largest total its archive members inflate to (a stock pack is 522 KB)."""

_REDOWNLOAD = "Delete it and download it again (`kokoro-trt download`)."
# What a truncated, corrupted or foreign file makes zipfile, zlib and pickle raise.
_PARSE_ERRORS = (
    zipfile.BadZipFile,
    AttributeError,
    zlib.error,
    pickle.UnpicklingError,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
)


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for ``torch.FloatStorage``: only its element type matters."""

    dtype: np.dtype


@dataclass(frozen=True)
class _Storage:
    """A storage loaded from the archive as a flat numpy array."""

    array: np.ndarray


def _rebuild_tensor_v2(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> np.ndarray:
    """numpy version of ``torch._utils._rebuild_tensor_v2`` (requires_grad and hooks are ignored)."""
    flat = storage.array
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if offset < 0 or any(s < 0 for s in stride) or (all(size) and last >= flat.size):
        raise ValueError(f"a tensor of size {size}, stride {stride} overruns its storage of {flat.size}")
    view = np.lib.stride_tricks.as_strided(
        flat[offset:], shape=size, strides=tuple(s * flat.itemsize for s in stride), writeable=False
    )
    return np.ascontiguousarray(view)


_FUNCTIONS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("collections", "OrderedDict"): OrderedDict,
}
_STORAGE_DTYPES = {("torch", "FloatStorage"): np.dtype(np.float32)}


class _TensorUnpickler(pickle.Unpickler):
    """Unpickler that maps torch's tensor globals to numpy and refuses any other global."""

    def __init__(self, data: bytes, read_storage: Callable[[str, np.dtype, int], np.ndarray]):
        super().__init__(io.BytesIO(data))
        self._read_storage = read_storage

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _STORAGE_DTYPES:  # a fresh object: a hostile BUILD cannot alter shared state
            return _StorageType(_STORAGE_DTYPES[(module, name)])
        if (module, name) in _FUNCTIONS:
            return _FUNCTIONS[(module, name)]
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        return _Storage(self._read_storage(str(key), storage_type.dtype, int(numel)))


def _check_inflated_size(archive: zipfile.ZipFile, source: Path) -> None:
    """Refuse an archive whose members inflate past :data:`MAX_BYTES` (a deflate bomb), before reading any.

    zipfile stops each member at its declared size (and fails the CRC if that size lies), so the sum
    of declared sizes bounds what reading inflates.
    """
    inflated = sum(info.file_size for info in archive.infolist())
    if inflated > MAX_BYTES:
        raise InvalidInputError(
            f"{source} inflates to {inflated / 1e6:.0f} MB; a voice pack is under {MAX_BYTES / 1e6:.0f} MB. "
            "Refusing to read it."
        )


def _read_archive(data: bytes, source: Path) -> np.ndarray:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        _check_inflated_size(archive, source)
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise ValueError("no single data.pkl in the archive")
        root = pickles[0][: -len("data.pkl")]
        names = set(archive.namelist())
        order = archive.read(f"{root}byteorder").decode().strip() if f"{root}byteorder" in names else "little"
        byteorder: Literal["<", ">"] = "<" if order == "little" else ">"

        def read_storage(key: str, dtype: np.dtype, numel: int) -> np.ndarray:
            entry = archive.getinfo(f"{root}data/{key}")
            if entry.file_size != numel * dtype.itemsize:  # also bounds what a hostile archive inflates
                raise ValueError(f"storage {key} holds {entry.file_size} bytes, not {numel} x {dtype}")
            raw = archive.read(entry)
            return np.frombuffer(raw, dtype=dtype.newbyteorder(byteorder), count=numel).astype(dtype)

        result = _TensorUnpickler(archive.read(pickles[0]), read_storage).load()
    if not isinstance(result, np.ndarray):
        raise TypeError(f"the file holds a {type(result).__name__}, not a single tensor")
    return result


def load_torch_tensor(path: str | Path, *, sha256: str | None = None) -> np.ndarray:
    """Read the float32 tensor saved in ``path`` by ``torch.save``, as a numpy array.

    When ``sha256`` is given the file's bytes are checked first (:class:`~kokoro_trt.ChecksumError`).
    A file that is not such a tensor raises :class:`~kokoro_trt.KokoroError` naming the file; one over
    :data:`MAX_BYTES`, read or inflated, :class:`~kokoro_trt.InvalidInputError`.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise KokoroError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    if len(data) > MAX_BYTES:
        raise InvalidInputError(f"{path} is over {MAX_BYTES / 1e6:.0f} MB; a voice pack is about 0.5 MB.")
    if sha256 is not None:
        verify_sha256(data, sha256, path)
    try:
        return _read_archive(data, path)
    except InvalidInputError:  # a ValueError, but no parse error: the bomb was refused on purpose
        raise
    except _PARSE_ERRORS as exc:
        raise KokoroError(f"{path} is not a valid torch float32 tensor file ({exc}). {_REDOWNLOAD}") from exc
