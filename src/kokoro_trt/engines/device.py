"""What an engine set is built for (TensorRT flavour and version, compute capability, GPU model),
and the GPU this process runs on, described without importing TensorRT."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import cuda_driver, cudart
from ..errors import BackendUnavailableError, InvalidInputError

if TYPE_CHECKING:
    from .library import TensorRTLibrary


def arch_name(compute_capability: str) -> str:
    """``"8.6"`` → ``"sm86"``, ``"12.0"`` → ``"sm120"``."""
    return "sm" + compute_capability.replace(".", "")


def compute_capability_of(arch: str) -> str:
    """``"sm86"`` → ``"8.6"``, ``"sm120"`` → ``"12.0"``; :class:`InvalidInputError` for anything else."""
    match = re.fullmatch(r"sm_?(\d+)(\d)", arch.strip().lower())
    if not match:
        raise InvalidInputError(f"an architecture looks like sm86, sm89 or sm120, got {arch!r}")
    return f"{int(match[1])}.{match[2]}"


@dataclass(frozen=True)
class EngineTarget:
    """Where an engine runs: a TensorRT flavour and version, a compute capability and, for native
    TensorRT (whose engines are tuned for one GPU model), that GPU's name. TensorRT-for-RTX engines run
    on any GPU of their compute capability, so their ``gpu_name`` is empty."""

    library: str
    library_version: str
    compute_capability: str
    gpu_name: str = ""

    @property
    def arch(self) -> str:
        return arch_name(self.compute_capability)

    @property
    def slug(self) -> str:
        """A folder name unique to this target: ``tensorrt-rtx-1.7.1.116-sm86``."""
        gpu = re.sub(r"[^a-z0-9]+", "-", self.gpu_name.lower()).strip("-")
        return f"{self.library}-{self.library_version}-{self.arch}" + (f"-{gpu}" if gpu else "")

    def describe(self) -> str:
        where = self.gpu_name or f"any {self.arch} GPU"
        return f"{where} (compute capability {self.compute_capability}), {self.library} {self.library_version}"


def gpu_properties(device_id: int = 0) -> tuple[str, str]:
    """Name and compute capability of CUDA device ``device_id``: from cuda-python where it is installed,
    else from the NVIDIA driver itself (:mod:`..cuda_driver`)."""
    try:
        cudart.runtime()
    except BackendUnavailableError:  # cuda-python is not installed
        return cuda_driver.device_properties(device_id)
    return cudart.device_properties(device_id)


def current_target(library: TensorRTLibrary, device_id: int = 0) -> EngineTarget:
    """Engines for GPU ``device_id`` with ``library``; :class:`BackendUnavailableError` without a GPU it supports."""
    name, capability = gpu_properties(device_id)
    if not library.cross_builds:
        return EngineTarget(library.name, library.version, capability, name)
    if arch_name(capability) not in library.architectures:
        raise BackendUnavailableError(
            f"{library.name} runs on {', '.join(library.architectures)}; {name} is {arch_name(capability)}"
        )
    return EngineTarget(library.name, library.version, capability)


def cross_target(library: TensorRTLibrary, arch: str) -> EngineTarget:
    """Engines for any ``arch`` GPU, built here without one (TensorRT for RTX only)."""
    if not library.cross_builds:
        raise InvalidInputError(
            "native TensorRT builds only for the GPU it runs on; use `--backend tensorrt-rtx` to build "
            "for another architecture"
        )
    capability = compute_capability_of(arch)
    library.compute_capability(arch_name(capability))  # raises for an unsupported architecture
    return EngineTarget(library.name, library.version, capability)
