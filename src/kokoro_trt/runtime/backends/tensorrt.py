"""Native TensorRT backend: the three engines, device buffers allocated once, audio written in place.

* Every input and intermediate tensor has one device buffer sized for the engine's largest profile
  shape, allocated at load and reused; nothing is allocated per call.
* The duration engine writes ``d`` and ``t_en`` straight into the prosody and decoder input buffers.
  A host copy is kept in :class:`TextFeatures` too, re-uploaded only when another text's durations
  were computed in between (the model plans every chunk before rendering).
* The decoder's ``audio`` output is bound to the caller's buffer (``out.ptr + 4 * offset``) when it
  is on the GPU; host buffers get one device-to-host copy from a scratch buffer.
* Work runs with ``execute_async_v3`` on the caller's CUDA stream or our own; only that stream is
  synchronised, never the device.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...engines import EngineSet, current_device, default_engine_dir
from ...engines.build import recording_logger
from ...errors import (
    BackendError,
    BackendUnavailableError,
    InvalidInputError,
    ModelNotFoundError,
    OutputBufferError,
)
from ...graphs import GraphSet
from ..buffers import OutputTarget
from . import cuda
from .base import TextFeatures, backend_errors

# Duration outputs written directly into later stages' input buffers: output -> (stage, input).
_SHARED = {"d": ("prosody", "d"), "t_en": ("decoder", "t_en")}


@dataclass
class Resident:
    """A duration-stage feature: its host copy and which ``durations`` call produced it."""

    host: np.ndarray
    generation: int


class _Engine:
    """One deserialized engine, its execution context and a device buffer per I/O tensor."""

    def __init__(self, trt: Any, runtime: Any, path: str, log: Any, shared: dict[str, cuda.DeviceBuffer]) -> None:
        with open(path, "rb") as f:
            self.engine = runtime.deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise BackendError(f"TensorRT could not load {path}: {log.last_error('deserialization failed')}")
        self.context = self.engine.create_execution_context()
        self.log = log
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.dtypes = {n: np.dtype(trt.nptype(self.engine.get_tensor_dtype(n))) for n in names}
        self.max_shapes = {n: tuple(self.engine.get_tensor_profile_shape(n, 0)[2]) for n in self.inputs}
        for name in self.inputs:  # output shapes at the largest inputs size the output buffers
            self.context.set_input_shape(name, self.max_shapes[name])
        shapes = {n: self.max_shapes.get(n) or tuple(self.context.get_tensor_shape(n)) for n in names}
        self.max_samples = int(shapes["audio"][0]) if "audio" in shapes else 0
        self.buffers = {
            n: shared.get(n) or cuda.DeviceBuffer(int(np.prod(shapes[n])) * self.dtypes[n].itemsize)
            for n in names
            if n != "audio"  # the decoder writes into the caller's buffer (or a scratch one)
        }

    def set_input(self, name: str, value: np.ndarray, stream: cuda.Stream, upload: bool = True) -> None:
        value = np.ascontiguousarray(value, dtype=self.dtypes[name])
        limit = self.max_shapes[name]
        if any(size > top for size, top in zip(value.shape, limit)):
            raise InvalidInputError(
                f"input {name} of shape {value.shape} exceeds the engine's profile {limit}: shorter "
                "chunks, or rebuild with larger ranges (`kokoro-trt build`)"
            )
        if not self.context.set_input_shape(name, value.shape):
            raise BackendError(f"TensorRT rejected shape {value.shape} for {name}: {self.log.last_error('')}")
        if upload:
            cuda.copy_to_device(self.buffers[name].ptr, value, stream)

    def output(self, name: str, stream: cuda.Stream) -> np.ndarray:
        array = np.empty(tuple(self.context.get_tensor_shape(name)), dtype=self.dtypes[name])
        cuda.copy_to_host(array, self.buffers[name].ptr, stream)
        return array

    def run(self, stream: cuda.Stream, addresses: dict[str, int] | None = None) -> None:
        for name, buffer in self.buffers.items():
            self.context.set_tensor_address(name, buffer.ptr)
        for name, ptr in (addresses or {}).items():
            self.context.set_tensor_address(name, ptr)
        self.log.errors.clear()
        if not self.context.execute_async_v3(stream.handle):
            message = self.log.last_error("execute_async_v3 failed")
            raise cuda.error_type_for_message(message)(message)


class TensorRTBackend:
    """The ``duration``, ``prosody`` and ``decoder`` engines on one GPU."""

    name = "tensorrt"
    output_devices = ("cpu", "cuda")

    def __init__(self, engines: EngineSet, *, device_id: int = 0, stream: Any = None) -> None:
        import tensorrt as trt

        self.device_id = device_id
        self._generations = itertools.count(1)
        self._resident = 0
        self._engines: dict[str, _Engine] = {}
        with backend_errors(self.name, "load"):
            cuda.set_device(device_id)
            self.stream = cuda.Stream(stream)
            self._log = recording_logger(trt)
            runtime = trt.Runtime(self._log)
            for stage in ("prosody", "decoder"):
                self._engines[stage] = _Engine(trt, runtime, str(engines.path(stage)), self._log, {})
            shared = {out: self._engines[stage].buffers[inp] for out, (stage, inp) in _SHARED.items()}
            self._engines["duration"] = _Engine(trt, runtime, str(engines.path("duration")), self._log, shared)
            self._scratch: cuda.DeviceBuffer | None = None
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
        return features.d.generation == self._resident

    def prosody(self, features: TextFeatures, frame_index: np.ndarray, style: np.ndarray):
        engine = self._engines["prosody"]
        with backend_errors(self.name, "prosody"):
            if not self._features_resident(features):
                self._engines["decoder"].set_input("t_en", features.t_en.host, self.stream)
                self._resident = features.d.generation
                engine.set_input("d", features.d.host, self.stream)
            else:
                engine.set_input("d", features.d.host, self.stream, upload=False)
            engine.set_input("frame_index", frame_index, self.stream)
            engine.set_input("style", style, self.stream)
            engine.run(self.stream)
            return engine.output("f0", self.stream), engine.output("n", self.stream)

    def decode(self, features, frame_index, f0, n, style, noise, out: OutputTarget, offset: int) -> None:
        engine = self._engines["decoder"]
        samples = frame_index.shape[0] * self.samples_per_frame
        if out.device == "cuda" and out.device_id != self.device_id:
            raise OutputBufferError(f"output buffer is on cuda:{out.device_id}, the engines on cuda:{self.device_id}")
        with backend_errors(self.name, "decoder"):
            resident = self._features_resident(features)
            if not resident:
                self._engines["prosody"].set_input("d", features.d.host, self.stream)
                self._resident = features.d.generation
            engine.set_input("t_en", features.t_en.host, self.stream, upload=not resident)
            for name, value in (("frame_index", frame_index), ("f0", f0), ("n", n), ("style", style), ("noise", noise)):
                engine.set_input(name, value, self.stream)
            if out.device == "cuda":
                engine.run(self.stream, {"audio": out.ptr + 4 * offset})
                self.stream.synchronize()
                return
            if self._scratch is None:
                self._scratch = cuda.DeviceBuffer(4 * engine.max_samples)
            engine.run(self.stream, {"audio": self._scratch.ptr})
            cuda.copy_to_host_address(out.ptr + 4 * offset, self._scratch.ptr, 4 * samples, self.stream)

    def close(self) -> None:
        """Free device memory and our stream; the backend is unusable afterwards."""
        buffers = {id(b): b for e in self._engines.values() for b in e.buffers.values()}
        for buffer in buffers.values():
            buffer.free()
        if getattr(self, "_scratch", None):
            self._scratch.free()
        self._engines.clear()
        if hasattr(self, "stream"):
            self.stream.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the CUDA runtime may already be gone
            pass


def load_tensorrt(graphs: GraphSet, device_id: int = 0, stream: Any = None) -> TensorRTBackend:
    """The engines built for ``graphs`` on this GPU (``kokoro-trt build``), loaded.

    :class:`BackendUnavailableError` when TensorRT, a GPU or the engines are missing;
    :class:`StaleEngineError` when engines exist but were built for something else.
    """
    device = current_device(device_id)
    try:
        engines = EngineSet.load(default_engine_dir(graphs, device), graphs, device)
    except ModelNotFoundError as exc:
        raise BackendUnavailableError(str(exc)) from None
    return TensorRTBackend(engines, device_id=device_id, stream=stream)
