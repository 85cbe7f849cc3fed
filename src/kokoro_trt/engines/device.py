"""The GPU and TensorRT an engine is built for or loaded on, described without importing either."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BackendUnavailableError


@dataclass(frozen=True)
class DeviceInfo:
    """A GPU model, its compute capability (``"8.6"``) and the TensorRT version in use."""

    name: str
    compute_capability: str
    tensorrt_version: str
    index: int = 0

    @property
    def slug(self) -> str:
        """A folder name unique to (GPU model, compute capability, TensorRT version)."""
        gpu = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")
        return f"{gpu}-sm{self.compute_capability.replace('.', '')}-trt{self.tensorrt_version}"

    def describe(self) -> str:
        return f"{self.name} (compute capability {self.compute_capability}), TensorRT {self.tensorrt_version}"


def gpu_properties(device_id: int = 0) -> tuple[str, str]:
    """Name and compute capability of CUDA device ``device_id`` (cuda-python, else torch)."""
    try:
        from ..runtime.backends import cuda

        return cuda.device_properties(device_id)
    except BackendUnavailableError:
        try:
            import torch
        except ImportError:
            raise BackendUnavailableError(
                "no CUDA binding: `pip install 'kokoro-trt[gpu]'` (cuda-python)"
            ) from None
        if not torch.cuda.is_available() or device_id >= torch.cuda.device_count():
            raise BackendUnavailableError(f"no CUDA device {device_id}") from None
        major, minor = torch.cuda.get_device_capability(device_id)
        return torch.cuda.get_device_name(device_id), f"{major}.{minor}"


def current_device(device_id: int = 0) -> DeviceInfo:
    """This machine's GPU ``device_id`` and installed TensorRT; :class:`BackendUnavailableError` if absent."""
    try:
        import tensorrt
    except ImportError:
        raise BackendUnavailableError("TensorRT is not installed: `pip install 'kokoro-trt[gpu]'`") from None
    name, capability = gpu_properties(device_id)
    return DeviceInfo(name, capability, tensorrt.__version__, device_id)
