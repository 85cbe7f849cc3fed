"""The GPUs the NVIDIA driver sees, asked of the driver library itself (``libcuda``, through ctypes).

Needs neither cuda-python nor torch, so a machine without a GPU learns so in milliseconds: the fallback
this replaces imported torch (~2 s and ~250 MB on every ``load_kokoro("auto")`` where a TensorRT library
was installed without cuda-python) only to find no device.
"""

from __future__ import annotations

import ctypes
import os

from .errors import BackendUnavailableError

LIBRARY = "nvcuda.dll" if os.name == "nt" else "libcuda.so.1"
"""The driver API's library, installed with the NVIDIA driver (not with the CUDA toolkit)."""

_CAPABILITY_MAJOR, _CAPABILITY_MINOR = 75, 76
"""``CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR`` and ``_MINOR``."""

_NO_DEVICE = 100
"""``CUDA_ERROR_NO_DEVICE``: a driver, but no GPU it can use."""


def device_properties(device_id: int) -> tuple[str, str]:
    """Name and compute capability (``"8.6"``) of device ``device_id``; :class:`BackendUnavailableError`
    without a driver, without that device, or when the driver fails."""
    try:
        driver = ctypes.CDLL(LIBRARY)
    except OSError:
        raise BackendUnavailableError(f"no NVIDIA driver ({LIBRARY} not found)") from None
    _check(driver.cuInit(0), "cuInit")
    count = ctypes.c_int()
    _check(driver.cuDeviceGetCount(ctypes.byref(count)), "cuDeviceGetCount")
    if not 0 <= device_id < count.value:
        raise BackendUnavailableError(f"no CUDA device {device_id} (the driver sees {count.value})")
    device = ctypes.c_int()
    _check(driver.cuDeviceGet(ctypes.byref(device), device_id), "cuDeviceGet")
    name = ctypes.create_string_buffer(256)
    _check(driver.cuDeviceGetName(name, len(name), device), "cuDeviceGetName")
    major, minor = ctypes.c_int(), ctypes.c_int()
    _check(driver.cuDeviceGetAttribute(ctypes.byref(major), _CAPABILITY_MAJOR, device), "cuDeviceGetAttribute")
    _check(driver.cuDeviceGetAttribute(ctypes.byref(minor), _CAPABILITY_MINOR, device), "cuDeviceGetAttribute")
    return name.value.decode(errors="replace"), f"{major.value}.{minor.value}"


def _check(result: int, call: str) -> None:
    if result == _NO_DEVICE:
        raise BackendUnavailableError("no CUDA device (the NVIDIA driver found none)")
    if result != 0:
        raise BackendUnavailableError(f"the NVIDIA driver failed in {call} (CUresult {result})")
