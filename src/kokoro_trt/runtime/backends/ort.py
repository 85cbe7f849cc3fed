"""ONNX Runtime backends: CPU (always available) and the CUDA execution provider.

Session settings, chosen on purpose:

* a fixed ``intra_op_num_threads`` (all cores this process may use, unless given): results are
  bit-identical only for the same thread count, so it must not depend on load;
* ``enable_mem_pattern = False``: ORT caches an allocation plan per input shape, and with text of
  every length that cache only grows;
* ``ORT_ENABLE_ALL`` graph optimisation, sequential execution (the graphs are chains: the parallel
  executor ran the decoder 0.6-0.8× as fast, bench_cpu_speed);
* intra-op threads spin between the ops of a run and sleep once it ends
  (``session.force_spinning_stop``): each session has its own pool, and a pool spinning on after its
  run takes the cores from the session that runs next (a stream's duration pass, prosody and decoder
  come back to back). Sleeping between ops as well cost the short stages ~15% (each op wakes the pool)
  and the decoder 0-5% (docs/performance.md);
* the CPU arena keeps its peak, which the chunk cap bounds (``CHUNK_PHONEMES``, ~18 s of audio a pass):
  resident memory grows to that of the longest chunk so far (~19 MB per second of its audio), then stays
  (``load_kokoro(decode_window_seconds=6)`` caps it at ~160 MB; without the arena or with
  ``kSameAsRequested`` growth the peak was higher, not lower).
  Shrinking the arena after every run (``memory.enable_memory_arena_shrinkage``) lowered that for
  sequential calls but made a 5-minute server stream grow by 460-500 MiB instead of 16 MiB (freed
  blocks fragment the worker threads' malloc arenas), so it is off.

On the CPU the decoder runs its rewritten form where it can (:mod:`..cpu_decoder`): each Snake block one
multi-threaded custom op (:mod:`..snake_kernel`; ~1.2x faster) and the kernel-7 and kernel-11 convolutions
as matrix products by blocks (:mod:`..spectral_conv`; ~1.3x more), else the stock graph.

The decoder's output is bound with IOBinding to the caller's buffer, so audio lands in place.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ...errors import BackendUnavailableError
from ...graphs import GraphSet
from ..buffers import OutputTarget
from ..cpu_decoder import fused_cpu_decoder
from .base import TextFeatures, backend_errors

logger = logging.getLogger(__name__)


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def session_options(threads: int, spinning: bool = True) -> ort.SessionOptions:
    """The settings above; ``spinning=False``: idle intra-op threads sleep between ops too."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if spinning:
        options.add_session_config_entry("session.force_spinning_stop", "1")
    else:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    return options


def cuda_provider(device_id: int = 0) -> tuple[str, dict[str, str]]:
    """CUDA EP options: heuristic cuDNN search (EXHAUSTIVE makes the first request slow), no TF32."""
    return "CUDAExecutionProvider", {
        "device_id": str(device_id),
        "cudnn_conv_algo_search": "HEURISTIC",
        "use_tf32": "0",
        "arena_extend_strategy": "kSameAsRequested",
    }


class OnnxRuntimeBackend:
    """The three stage graphs on one ONNX Runtime execution provider.

    ``int8_decoder``: run this quantised decoder graph (``kokoro_trt.runtime.int8``) instead of the
    export's FP32 one, on the CPU only; the backend is then named ``onnxruntime-cpu-int8``.
    """

    def __init__(
        self,
        graphs: GraphSet,
        *,
        device: str = "cpu",
        device_id: int = 0,
        threads: int | None = None,
        int8_decoder: str | Path | None = None,
    ) -> None:
        if int8_decoder is not None and device != "cpu":
            raise BackendUnavailableError("the INT8 decoder runs on ONNX Runtime CPU only")
        self.device = device
        self.device_id = device_id
        self.threads = threads or default_threads()
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendUnavailableError(
                    "ONNX Runtime's CUDA provider is not installed: `pip install onnxruntime-gpu`"
                )
            providers: list = [cuda_provider(device_id)]
        else:
            providers = ["CPUExecutionProvider"]
        self.name = f"onnxruntime-{device}" + ("-int8" if int8_decoder is not None else "")
        paths = {stage: graphs.path(stage) for stage in ("duration", "prosody", "decoder")}
        if int8_decoder is not None:
            paths["decoder"] = Path(int8_decoder)
        self.output_devices = ("cpu", "cuda") if device == "cuda" else ("cpu",)
        self.fused_snake = False
        """Whether the decoder runs its CPU form (:mod:`..cpu_decoder`): on the CPU, with a C compiler."""
        with backend_errors(self.name, "load"):
            self.sessions = {
                stage: ort.InferenceSession(str(path), session_options(self.threads), providers=providers)
                for stage, path in paths.items()
                if not (device == "cpu" and stage == "decoder")
            }
        if device == "cpu":
            self.sessions["decoder"] = self._cpu_decoder(graphs, paths["decoder"])
        active = self.sessions["decoder"].get_providers()[0]
        if device == "cuda" and active != "CUDAExecutionProvider":
            raise BackendUnavailableError(f"ONNX Runtime fell back to {active}: no usable CUDA device")
        self.samples_per_frame = graphs.samples_per_frame

    def _cpu_decoder(self, graphs: GraphSet, stock: Path) -> ort.InferenceSession:
        """The CPU form of the decoder ``stock`` (:mod:`..cpu_decoder`) where it can run here, else ``stock``."""
        fused = fused_cpu_decoder(graphs, stock)
        if fused is not None:
            graph, library = fused
            fused_options = session_options(self.threads)  # its own: the library is registered on it
            try:
                fused_options.register_custom_ops_library(str(library))
                session = ort.InferenceSession(str(graph), fused_options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # noqa: BLE001 - any failure here leaves the stock decoder, which works
                logger.warning("the fused decoder did not load (%s): running the stock decoder", exc)
            else:
                self.fused_snake = True
                return session
        with backend_errors(self.name, "load"):
            return ort.InferenceSession(str(stock), session_options(self.threads), providers=["CPUExecutionProvider"])

    def durations(self, input_ids: np.ndarray, style: np.ndarray, speed: float) -> TextFeatures:
        inputs = {"input_ids": input_ids, "style": style, "speed": np.array([speed], dtype=np.float32)}
        with backend_errors(self.name, "duration"):
            durations, d, t_en = self.sessions["duration"].run(None, inputs)
        return TextFeatures(durations, d, t_en)

    def prosody(self, features: TextFeatures, frame_index: np.ndarray, style: np.ndarray):
        inputs = {"d": features.prosody_input, "frame_index": frame_index, "style": style}
        with backend_errors(self.name, "prosody"):
            f0, n = self.sessions["prosody"].run(None, inputs)
        return f0, n

    def decode(self, features, frame_index, f0, n, style, noise, out: OutputTarget, offset: int) -> None:
        session = self.sessions["decoder"]
        samples = frame_index.shape[0] * self.samples_per_frame
        with backend_errors(self.name, "decoder"):
            binding = session.io_binding()
            for name, value in decoder_feeds(features, frame_index, f0, n, style, noise).items():
                binding.bind_cpu_input(name, np.ascontiguousarray(value))
            binding.bind_output("audio", out.device, out.device_id, np.float32, [samples], out.ptr + 4 * offset)
            session.run_with_iobinding(binding)


def decoder_feeds(
    features: TextFeatures, frame_index: np.ndarray, f0: np.ndarray, n: np.ndarray, style: np.ndarray, noise: np.ndarray
) -> dict[str, np.ndarray]:
    """The decoder graph's inputs by name."""
    return {
        "t_en": features.decoder_input,
        "frame_index": frame_index,
        "f0": f0,
        "n": n,
        "style": style,
        "noise": noise,
    }
