"""TensorRT backend, for both flavours (native TensorRT and TensorRT for RTX): the three engines,
device buffers allocated once, audio written in place.

* Every input and intermediate tensor has one device buffer sized for the engine's largest profile
  shape, allocated at load and reused; nothing is allocated per call.
* The duration engine writes ``d`` and ``t_en`` straight into the prosody and decoder input buffers.
  A host copy is kept in :class:`TextFeatures` too, re-uploaded only when another text's durations
  were computed in between (the model plans every chunk before rendering).
* The decoder's ``audio`` output is bound to the caller's buffer (``out.ptr + 4 * offset``) when it is
  on the GPU and 256-byte aligned, as TensorRT requires; otherwise the decoder writes into a scratch
  buffer and one copy (device-to-device or device-to-host) moves the audio.
* Work runs with ``execute_async_v3`` on the caller's CUDA stream or our own; only that stream is
  synchronised, never the device.
* TensorRT for RTX compiles kernels for the GPU on first use; they are kept in a runtime cache file per
  engine and GPU (``<cache>/engines/runtime/``), so they compile once per machine, not per process.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ... import cudart as cuda
from ...engines import (
    EngineSet,
    EngineTarget,
    TensorRTLibrary,
    current_target,
    default_engine_root,
    load_library,
)
from ...errors import (
    BackendError,
    BackendUnavailableError,
    InvalidInputError,
    ModelNotFoundError,
    OutputBufferError,
)
from ...graphs import GraphSet
from ...storage import atomic_write, cache_dir
from ..buffers import OutputTarget
from .base import TextFeatures, backend_errors

ALIGNMENT = 256
"""TensorRT's required alignment of every bound tensor address, in bytes."""

# Duration outputs written directly into later stages' input buffers: output -> (stage, input).
_SHARED = {"d": ("prosody", "d"), "t_en": ("decoder", "t_en")}


@dataclass
class Resident:
    """A duration-stage feature: its host copy and which ``durations`` call produced it."""

    host: np.ndarray
    generation: int


class _RuntimeCache:
    """TensorRT for RTX's just-in-time kernel cache for one engine on one GPU, kept in a file."""

    def __init__(self, runtime_config: Any, path: Path) -> None:
        self.path = path
        self.cache = runtime_config.create_runtime_cache()
        if path.is_file():
            self.cache.deserialize(path.read_bytes())
        runtime_config.set_runtime_cache(self.cache)
        self._saved = path.stat().st_size if path.is_file() else 0

    def save(self) -> None:
        data = bytes(self.cache.serialize())
        if len(data) != self._saved:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, data)
            self._saved = len(data)


class _Engine:
    """One deserialized engine, its execution context and a device buffer per I/O tensor."""

    def __init__(
        self,
        library: TensorRTLibrary,
        runtime: Any,
        path: Path,
        shared: dict[str, cuda.DeviceBuffer],
        runtime_cache: Path | None,
    ) -> None:
        trt, self.log = library.trt, library.logger
        self.engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise BackendError(f"{library.name} could not load {path}: {self.log.last_error('deserialization failed')}")
        self.cache = None
        if runtime_cache is not None:
            config = self.engine.create_runtime_config()
            self.cache = _RuntimeCache(config, runtime_cache)
            self.context = self.engine.create_execution_context(config)
        else:
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.dtypes = {n: np.dtype(trt.nptype(self.engine.get_tensor_dtype(n))) for n in names}
        self.max_shapes = {n: tuple(self.engine.get_tensor_profile_shape(n, 0)[2]) for n in self.inputs}
        for name in self.inputs:  # output shapes at the largest inputs size the output buffers
            self._set_shape(name, self.max_shapes[name])
        shapes = {n: self.max_shapes.get(n) or tuple(self.context.get_tensor_shape(n)) for n in names}
        self.max_samples = int(shapes["audio"][0]) if "audio" in shapes else 0
        self.buffers = {
            n: shared.get(n) or cuda.DeviceBuffer(int(np.prod(shapes[n])) * self.dtypes[n].itemsize)
            for n in names
            if n != "audio"  # the decoder writes into the caller's buffer (or a scratch one)
        }

    def _set_shape(self, name: str, shape: tuple[int, ...]) -> None:
        if not self.context.set_input_shape(name, shape):
            raise BackendError(f"TensorRT rejected shape {shape} for {name}: {self.log.last_error('')}")

    def set_input(self, name: str, value: np.ndarray, stream: cuda.Stream, upload: bool = True) -> None:
        value = np.ascontiguousarray(value, dtype=self.dtypes[name])
        limit = self.max_shapes[name]
        if any(size > top for size, top in zip(value.shape, limit)):
            raise InvalidInputError(
                f"input {name} of shape {value.shape} exceeds the engine's profile {limit}: shorter "
                "chunks, or rebuild with larger ranges (`kokoro-trt build`)"
            )
        self._set_shape(name, value.shape)
        if upload:
            cuda.copy_to_device(self.buffers[name].ptr, value, stream)

    def output(self, name: str, stream: cuda.Stream) -> np.ndarray:
        array = np.empty(tuple(self.context.get_tensor_shape(name)), dtype=self.dtypes[name])
        cuda.copy_to_host(array, self.buffers[name].ptr, stream)
        return array

    def run(self, stream: cuda.Stream, addresses: dict[str, int] | None = None) -> None:
        for name, ptr in {**{n: b.ptr for n, b in self.buffers.items()}, **(addresses or {})}.items():
            if not self.context.set_tensor_address(name, ptr):
                raise BackendError(f"TensorRT rejected the address of {name}: {self.log.last_error('')}")
        self.log.errors.clear()
        if not self.context.execute_async_v3(stream.handle):
            message = self.log.last_error("execute_async_v3 failed")
            raise cuda.error_type_for_message(message)(message)


def runtime_cache_path(target: EngineTarget, gpu_name: str, engine_sha256: str) -> Path:
    """Where TensorRT for RTX keeps the kernels it compiled for one engine on one GPU model."""
    gpu = "".join(c if c.isalnum() else "-" for c in gpu_name.lower()).strip("-")
    return cache_dir() / "engines" / "runtime" / f"{gpu}-{target.library_version}" / f"{engine_sha256[:16]}.cache"


class TensorRTBackend:
    """The ``duration``, ``prosody`` and ``decoder`` engines on one GPU, with either TensorRT flavour."""

    output_devices = ("cpu", "cuda")

    def __init__(
        self,
        engines: EngineSet,
        library: TensorRTLibrary,
        *,
        device_id: int = 0,
        stream: Any = None,
        gpu_name: str = "",
    ) -> None:
        self.name = library.name
        self.device_id = device_id
        self._generations = itertools.count(1)
        self._resident = 0
        self._engines: dict[str, _Engine] = {}
        self._scratch: cuda.DeviceBuffer | None = None
        self._decoded = False

        def load(stage: str, shared: dict[str, cuda.DeviceBuffer]) -> _Engine:
            manifest = engines.manifests[stage]
            cache = (
                runtime_cache_path(manifest.target, gpu_name, manifest.engine_sha256) if library.cross_builds else None
            )
            return _Engine(library, runtime, engines.path(stage), shared, cache)

        with backend_errors(self.name, "load"):
            cuda.set_device(device_id)
            self.stream = cuda.Stream(stream)
            runtime = library.trt.Runtime(library.logger)
            for stage in ("prosody", "decoder"):
                self._engines[stage] = load(stage, {})
            shared = {out: self._engines[stage].buffers[inp] for out, (stage, inp) in _SHARED.items()}
            self._engines["duration"] = load("duration", shared)
            profiles = engines.manifests["decoder"].profiles
            self.samples_per_frame = profiles["noise"]["max"][1] // profiles["frame_index"]["max"][0]

    def durations(self, input_ids: np.ndarray, style: np.ndarray, speed: float) -> TextFeatures:
        engine = self._engines["duration"]
        with backend_errors(self.name, "duration"):
            engine.set_input("input_ids", input_ids, self.stream)
            engine.set_input("style", style, self.stream)
            engine.set_input("speed", np.array([speed], dtype=np.float32), self.stream)
            engine.run(self.stream)
            durations = engine.output("durations", self.stream)
            generation = self._resident = next(self._generations)
            d, t_en = (Resident(engine.output(name, self.stream), generation) for name in ("d", "t_en"))
        return TextFeatures(durations, d, t_en)

    def _features_resident(self, features: TextFeatures) -> bool:
        """True when ``d``/``t_en`` in the device buffers are ``features``'; else they are re-uploaded."""
        return features.prosody_input.generation == self._resident

    def prosody(self, features: TextFeatures, frame_index: np.ndarray, style: np.ndarray):
        engine = self._engines["prosody"]
        with backend_errors(self.name, "prosody"):
            if not self._features_resident(features):
                self._engines["decoder"].set_input("t_en", features.decoder_input.host, self.stream)
                self._resident = features.prosody_input.generation
                engine.set_input("d", features.prosody_input.host, self.stream)
            else:
                engine.set_input("d", features.prosody_input.host, self.stream, upload=False)
            engine.set_input("frame_index", frame_index, self.stream)
            engine.set_input("style", style, self.stream)
            engine.run(self.stream)
            return engine.output("f0", self.stream), engine.output("n", self.stream)

    def decode(self, features, frame_index, f0, n, style, noise, out: OutputTarget, offset: int) -> None:
        engine = self._engines["decoder"]
        samples = frame_index.shape[0] * self.samples_per_frame
        if out.device == "cuda" and out.device_id != self.device_id:
            raise OutputBufferError(f"output buffer is on cuda:{out.device_id}, the engines on cuda:{self.device_id}")
        address = out.ptr + 4 * offset
        with backend_errors(self.name, "decoder"):
            resident = self._features_resident(features)
            if not resident:
                self._engines["prosody"].set_input("d", features.prosody_input.host, self.stream)
                self._resident = features.prosody_input.generation
            engine.set_input("t_en", features.decoder_input.host, self.stream, upload=not resident)
            for name, value in (
                ("frame_index", frame_index),
                ("f0", f0),
                ("n", n),
                ("style", style),
                ("noise", noise),
            ):
                engine.set_input(name, value, self.stream)
            if out.device == "cuda" and address % ALIGNMENT == 0:
                engine.run(self.stream, {"audio": address})
                self.stream.synchronize()
            else:
                if self._scratch is None:
                    self._scratch = cuda.DeviceBuffer(4 * engine.max_samples)
                engine.run(self.stream, {"audio": self._scratch.ptr})
                cuda.copy_from_device(address, out.device, self._scratch.ptr, 4 * samples, self.stream)
            if not self._decoded:  # the first call compiled most kernels: keep them for later processes
                self._decoded = True
                self.save_runtime_caches()

    def save_runtime_caches(self) -> None:
        """Write TensorRT for RTX's just-in-time kernels to disk (a no-op for native TensorRT)."""
        for engine in self._engines.values():
            if engine.cache is not None:
                engine.cache.save()

    def close(self) -> None:
        """Save the runtime caches, free device memory and our stream; the backend is unusable afterwards."""
        if self._decoded:
            self.save_runtime_caches()
        buffers = {id(b): b for e in self._engines.values() for b in e.buffers.values()}
        for buffer in buffers.values():
            buffer.free()
        if self._scratch is not None:
            self._scratch.free()
            self._scratch = None
        self._engines.clear()
        if hasattr(self, "stream"):
            self.stream.close()

    def __del__(self) -> None:
        # At interpreter shutdown the CUDA runtime may already be gone; nothing is left to free then.
        with contextlib.suppress(Exception):
            self.close()


def load_tensorrt(
    graphs: GraphSet,
    library: str = "tensorrt",
    device_id: int = 0,
    stream: Any = None,
    engines: str | Path | None = None,
) -> TensorRTBackend:
    """The engines built for ``graphs`` and this GPU with ``library`` (``kokoro-trt build``), loaded.

    ``engines`` is a folder of engine sets (one per target, as ``kokoro-trt build --out`` writes), by
    default the cache. :class:`BackendUnavailableError` when the library, a GPU or the engines are
    missing; :class:`EngineArchitectureError` when the engines there are for another architecture;
    :class:`StaleEngineError` when they were built for another graph or library version.
    """
    lib = load_library(library)
    target = current_target(lib, device_id)
    try:
        engine_set = EngineSet.find(engines or default_engine_root(graphs), graphs, target)
    except ModelNotFoundError as exc:
        raise BackendUnavailableError(str(exc)) from None
    gpu_name = target.gpu_name or cuda.device_properties(device_id)[0]
    return TensorRTBackend(engine_set, lib, device_id=device_id, stream=stream, gpu_name=gpu_name)
