"""A thin layer over the CUDA runtime (cuda-python's ``cuda.bindings.runtime``): device buffers,
streams, copies, and CUDA error codes turned into typed errors. Below both the engine builder and the
runtime; cuda-python itself is imported only when a GPU is used."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import BackendError, BackendUnavailableError, DeviceLostError, DeviceOutOfMemoryError

# Errors after which the CUDA context is corrupt ("sticky"): only a new process recovers.
_LOST = {
    "cudaErrorIllegalAddress",
    "cudaErrorLaunchFailure",
    "cudaErrorHardwareStackError",
    "cudaErrorIllegalInstruction",
    "cudaErrorMisalignedAddress",
    "cudaErrorInvalidAddressSpace",
    "cudaErrorInvalidPc",
    "cudaErrorLaunchTimeout",
    "cudaErrorECCUncorrectable",
    "cudaErrorDevicesUnavailable",
    "cudaErrorNoDevice",
    "cudaErrorDeviceUninitialized",
    "cudaErrorContextIsDestroyed",
    "cudaErrorUnknown",
}
_OOM = {"cudaErrorMemoryAllocation"}
_OOM_TEXT = (
    "out of memory",
    "outofmemory",
    "cudaerrormemoryallocation",
    "cuda_error_out_of_memory",
    "failed to allocate",
)
_LOST_TEXT = (
    "illegal memory access",
    "cudaerrorillegaladdress",
    "unspecified launch failure",
    "device lost",
    "cuda_error_illegal_address",
    "cuda_error_launch_failed",
)


def error_type(name: str) -> type[BackendError]:
    """The :class:`BackendError` subclass for a ``cudaError_t`` name."""
    if name in _OOM:
        return DeviceOutOfMemoryError
    if name in _LOST:
        return DeviceLostError
    return BackendError


def error_type_for_message(message: str) -> type[BackendError]:
    """The :class:`BackendError` subclass for a library's error text (ONNX Runtime, TensorRT)."""
    text = message.lower()
    if any(marker in text for marker in _OOM_TEXT):
        return DeviceOutOfMemoryError
    if any(marker in text for marker in _LOST_TEXT):
        return DeviceLostError
    return BackendError


def runtime() -> Any:
    """The CUDA runtime module of cuda-python; :class:`BackendUnavailableError` without it."""
    try:
        from cuda.bindings import runtime as rt
    except ImportError:
        try:
            from cuda import cudart as rt  # cuda-python < 12.6
        except ImportError:
            raise BackendUnavailableError("cuda-python is not installed: `pip install 'kokoro-trt[gpu]'`") from None
    return rt


def check(result: tuple, what: str) -> Any:
    """Unpack a cuda-python ``(error, *values)`` result, raising a typed error unless it succeeded."""
    rt = runtime()
    err, *values = result
    if err != rt.cudaError_t.cudaSuccess:
        name = err.name if hasattr(err, "name") else str(err)
        raise error_type(name)(f"CUDA error {name} in {what}")
    return values[0] if len(values) == 1 else tuple(values) or None


def device_properties(device_id: int) -> tuple[str, str]:
    """Name and compute capability (``"8.6"``) of device ``device_id``."""
    rt = runtime()
    err, count = rt.cudaGetDeviceCount()
    if err != rt.cudaError_t.cudaSuccess or device_id >= count:
        raise BackendUnavailableError(f"no CUDA device {device_id} ({getattr(err, 'name', err)})")
    props = check(rt.cudaGetDeviceProperties(device_id), "cudaGetDeviceProperties")
    name = props.name.split(b"\0", 1)[0].decode() if isinstance(props.name, bytes) else str(props.name)
    return name, f"{props.major}.{props.minor}"


def set_device(device_id: int) -> None:
    check(runtime().cudaSetDevice(device_id), "cudaSetDevice")


def memory_in_use() -> int:
    """Bytes of device memory in use on the current device (by every process)."""
    free, total = check(runtime().cudaMemGetInfo(), "cudaMemGetInfo")
    return int(total) - int(free)


def stream_handle(stream: Any) -> int:
    """A raw ``cudaStream_t`` from an int, a ``torch.cuda.Stream``, a cuda-python stream, or any
    object implementing the CUDA stream protocol (``__cuda_stream__``)."""
    if isinstance(stream, int):
        return stream
    if hasattr(stream, "__cuda_stream__"):
        return int(stream.__cuda_stream__()[1])
    if hasattr(stream, "cuda_stream"):  # torch.cuda.Stream, cupy
        return int(stream.cuda_stream)
    if hasattr(stream, "getPtr"):  # cuda-python cudaStream_t / CUstream
        return int(stream)
    raise BackendError(f"not a CUDA stream: {type(stream).__name__}")


class Stream:
    """A CUDA stream: the caller's (never destroyed here) or our own non-blocking one."""

    def __init__(self, stream: Any = None) -> None:
        rt = runtime()
        self.owned = stream is None
        if self.owned:
            self._stream = check(rt.cudaStreamCreateWithFlags(rt.cudaStreamNonBlocking), "cudaStreamCreate")
            self.handle = int(self._stream)
        else:
            self.handle = stream_handle(stream)

    def synchronize(self) -> None:
        """Wait for this stream only (never the whole device)."""
        check(runtime().cudaStreamSynchronize(self.handle), "cudaStreamSynchronize")

    def close(self) -> None:
        if self.owned and self.handle:
            runtime().cudaStreamDestroy(self._stream)
            self.handle = 0


class DeviceBuffer:
    """``nbytes`` of device memory, allocated once and freed by :meth:`free`."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = max(int(nbytes), 1)
        self.ptr = int(check(runtime().cudaMalloc(self.nbytes), f"cudaMalloc({self.nbytes})"))

    def free(self) -> None:
        if self.ptr:
            runtime().cudaFree(self.ptr)
            self.ptr = 0


def copy_to_device(dst: int, array: np.ndarray, stream: Stream) -> None:
    """Copy a contiguous host array to ``dst`` on ``stream`` (pageable memory is staged before return)."""
    rt = runtime()
    kind = rt.cudaMemcpyKind.cudaMemcpyHostToDevice
    check(rt.cudaMemcpyAsync(dst, array.ctypes.data, array.nbytes, kind, stream.handle), "copy to device")


def copy_to_host(array: np.ndarray, src: int, stream: Stream) -> None:
    """Copy device memory into a contiguous host array; ``array`` is complete when this returns."""
    copy_from_device(array.ctypes.data, "cpu", src, array.nbytes, stream)


def copy_from_device(dst: int, dst_device: str, src: int, nbytes: int, stream: Stream) -> None:
    """Copy ``nbytes`` from device memory to ``dst`` (host or device); complete when this returns."""
    rt = runtime()
    kind = (
        rt.cudaMemcpyKind.cudaMemcpyDeviceToHost if dst_device == "cpu" else rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice
    )
    check(rt.cudaMemcpyAsync(dst, src, nbytes, kind, stream.handle), f"copy to {dst_device}")
    stream.synchronize()
