"""Caller-owned output buffers: numpy arrays, torch tensors, or anything exposing the array
interface, the CUDA array interface or DLPack. Audio is written in place; nothing is copied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import SAMPLE_RATE
from ..errors import OutputBufferError

_DLPACK_CPU, _DLPACK_CUDA = 1, 2


@dataclass(frozen=True)
class OutputTarget:
    """A validated 1-D float32 buffer: its address, size in samples and device."""

    owner: Any
    ptr: int
    capacity: int
    device: str  # "cpu" or "cuda"
    device_id: int = 0

    def written(self, samples: int) -> Any:
        """The caller's buffer restricted to the first ``samples`` samples (a view, same type)."""
        return self.owner[:samples]

    def host_view(self, start: int, stop: int) -> np.ndarray:
        """A numpy view of ``[start, stop)`` for a buffer in host memory."""
        if self.device != "cpu":
            raise OutputBufferError("host_view of a device buffer")
        return _from_address(self.ptr, self.capacity)[start:stop]

    def require_device(self, devices: tuple[str, ...], backend: str) -> None:
        if self.device not in devices:
            raise OutputBufferError(
                f"output buffer is on {self.device} but the {backend} backend writes to {' or '.join(devices)}"
            )

    def require_capacity(self, samples: int) -> None:
        if samples > self.capacity:
            raise OutputBufferError(
                f"output buffer holds {self.capacity} samples but this audio needs {samples} "
                f"({samples / SAMPLE_RATE:.2f} s); pass a larger buffer or a lower max_seconds"
            )


def _from_address(ptr: int, samples: int) -> np.ndarray:
    interface = {"data": (ptr, False), "shape": (samples,), "typestr": "<f4", "version": 3}
    return np.asarray(type("HostBuffer", (), {"__array_interface__": interface})())


def _check_layout(dtype: str, shape: tuple, contiguous: bool, what: str) -> None:
    if dtype not in ("float32", "torch.float32"):
        raise OutputBufferError(f"output buffer must be float32, got {dtype} ({what})")
    if len(shape) != 1:
        raise OutputBufferError(f"output buffer must be 1-D, got shape {tuple(shape)} ({what})")
    if not contiguous:
        raise OutputBufferError(f"output buffer must be contiguous ({what})")


def _numpy_target(array: np.ndarray, owner: Any) -> OutputTarget:
    _check_layout(str(array.dtype), array.shape, array.flags.c_contiguous, "numpy array")
    if not array.flags.writeable:
        raise OutputBufferError("output buffer is read-only")
    return OutputTarget(owner, array.__array_interface__["data"][0], array.shape[0], "cpu")


def _torch_target(tensor: Any) -> OutputTarget:
    _check_layout(str(tensor.dtype), tuple(tensor.shape), tensor.is_contiguous(), "torch tensor")
    device = tensor.device.type
    if device not in ("cpu", "cuda"):
        raise OutputBufferError(f"output buffer on unsupported device {tensor.device}")
    return OutputTarget(tensor, tensor.data_ptr(), tensor.shape[0], device, tensor.device.index or 0)


def _cuda_interface_target(obj: Any) -> OutputTarget:
    cai = obj.__cuda_array_interface__
    strides = cai.get("strides")
    _check_layout(str(np.dtype(cai["typestr"])), tuple(cai["shape"]), strides in (None, (4,)), "CUDA array")
    ptr, readonly = cai["data"]
    if readonly:
        raise OutputBufferError("output buffer is read-only")
    return OutputTarget(obj, ptr, cai["shape"][0], "cuda")


def wrap_output(output: Any) -> OutputTarget:
    """Validate ``output`` and describe where audio goes; raises :class:`OutputBufferError`."""
    if type(output).__module__.startswith("torch"):
        return _torch_target(output)
    if isinstance(output, np.ndarray):
        return _numpy_target(output, output)
    if hasattr(output, "__cuda_array_interface__"):
        return _cuda_interface_target(output)
    if hasattr(output, "__array_interface__"):
        return _numpy_target(np.asarray(output), output)
    if hasattr(output, "__dlpack__"):
        device_type, _ = output.__dlpack_device__()
        if device_type == _DLPACK_CPU:
            return _numpy_target(np.from_dlpack(output), output)
        if device_type == _DLPACK_CUDA:
            import torch  # only torch reads CUDA DLPack capsules here

            target = _torch_target(torch.from_dlpack(output))
            return OutputTarget(output, target.ptr, target.capacity, "cuda", target.device_id)
    raise OutputBufferError(
        f"unsupported output buffer type {type(output).__name__}: pass a numpy array, a torch tensor "
        "or an object with __array_interface__, __cuda_array_interface__ or __dlpack__"
    )
