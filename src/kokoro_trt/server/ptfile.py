"""A float32 array saved as ``torch.save`` would (zip archive, pickle protocol 2), without needing torch."""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np


def _text(value: str) -> bytes:
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)  # BININT


def _ints(values: tuple[int, ...]) -> bytes:
    return b"(" + b"".join(_int(v) for v in values) + b"t"  # MARK ... TUPLE


def _tensor_pickle(shape: tuple[int, ...]) -> bytes:
    """``torch._utils._rebuild_tensor_v2(storage '0', 0, shape, contiguous strides, False, OrderedDict())``."""
    strides = tuple(int(np.prod(shape[i + 1 :])) for i in range(len(shape)))
    storage = b"(" + _text("storage") + b"ctorch\nFloatStorage\n" + _text("0") + _text("cpu")
    storage += _int(int(np.prod(shape))) + b"tQ"  # TUPLE, BINPERSID
    hooks = b"ccollections\nOrderedDict\n)R"  # GLOBAL, EMPTY_TUPLE, REDUCE
    args = b"(" + storage + _int(0) + _ints(shape) + _ints(strides) + b"\x89" + hooks + b"t"
    return b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n" + args + b"R."  # PROTO 2 ... REDUCE, STOP


def torch_bytes(array: np.ndarray, name: str = "archive") -> bytes:
    """The bytes of a ``.pt`` file holding ``array`` as a float32 CPU tensor (readable by ``torch.load``)."""
    array = np.ascontiguousarray(array, dtype="<f4")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{name}/data.pkl", _tensor_pickle(array.shape))
        archive.writestr(f"{name}/byteorder", "little")
        archive.writestr(f"{name}/data/0", array.tobytes())
        archive.writestr(f"{name}/version", "3\n")
    return buffer.getvalue()
