"""``load_kokoro``: find (or export) the graphs, pick a backend, assemble a :class:`KokoroModel`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from importlib.metadata import PackageNotFoundError
from pathlib import Path

from ..assets import WeightsSource, cache_dir, resolve_weights
from ..candidates import first_available
from ..config import PRECISIONS, ModelConfig
from ..engines.library import LIBRARIES
from ..errors import BackendUnavailableError, CorruptFileError, InvalidInputError, ModelNotFoundError
from ..export.key import ExportKey
from ..graphs import MANIFEST_NAME, GraphSet
from ..storage import sha256_file, sha256_text
from .assemble import assemble_model
from .backends.base import Backend
from .backends.ort import OnnxRuntimeBackend
from .model import KokoroModel
from .windows import window_frames

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


def resolve_graphs(
    graphs: str | Path | None = None,
    *,
    weights: str | Path | None = None,
    config: ModelConfig | None = None,
    local_files_only: bool | None = None,
) -> GraphSet:
    """Exported graphs: ``graphs`` if given, else those of ``weights`` (exported on first use)."""
    if graphs is not None:
        return GraphSet.load(graphs)
    config = config or ModelConfig.default()
    source = resolve_weights(weights, local_files_only=local_files_only)
    weights_sha256 = source.sha256 or sha256_file(source.path)  # hashed once, for the key and the fallback
    source = replace(source, sha256=weights_sha256)
    cached = _current_export(source, config)
    if cached is not None:
        return cached
    try:
        from ..export.pipeline import export_model
    except ImportError:
        return _cached_graphs(weights_sha256, sha256_text(config.to_json()), source.path)
    return export_model(source, config)


def _current_export(source: WeightsSource, config: ModelConfig) -> GraphSet | None:
    """The cached export of exactly this weights, config and export code, found without importing torch
    (about a second); ``None`` when there is none, it is damaged, or the exporter is not installed."""
    try:
        key = ExportKey.of(source, config)
        return key.find(key.default_dir())
    except (PackageNotFoundError, CorruptFileError):  # no torch; damage is handled by export_model
        return None


def _cached_graphs(weights_sha256: str, config_sha256: str, weights: Path) -> GraphSet:
    """Without the exporter installed: the newest previous export of the same weights and config."""
    manifests = (cache_dir() / "graphs").glob(f"*/{MANIFEST_NAME}")
    for manifest in sorted(manifests, key=lambda p: p.stat().st_mtime, reverse=True):
        meta = json.loads(manifest.read_text())
        if meta.get("weights_sha256") == weights_sha256 and meta.get("config_sha256") == config_sha256:
            found = GraphSet.find(manifest.parent)
            if found is not None:
                return found
    raise ModelNotFoundError(
        f"No exported graphs for {weights.name}. Install the exporter and export once: "
        "`pip install 'kokoro-trt[export]' && kokoro-trt export`, or pass graphs=<folder>."
    )


def _parse_device(device: str) -> tuple[str, int]:
    kind, _, index = device.partition(":")
    if kind not in DEVICES or (index and not index.isdigit()) or (index and kind != "cuda"):
        raise InvalidInputError(f"device must be one of {', '.join(DEVICES)} or cuda:N, got {device!r}")
    return kind, int(index or 0)


def _check_precision(precision: str, device_kind: str) -> None:
    """``int8`` runs on ONNX Runtime CPU only: with ``cuda`` it is an error, with ``auto`` it means CPU."""
    if precision not in PRECISIONS:
        raise InvalidInputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "int8" and device_kind == "cuda":
        raise InvalidInputError(
            "precision='int8' runs the INT8 decoder on ONNX Runtime CPU only: use device='cpu' or 'auto' "
            "(or precision='fp32' on the GPU)"
        )


def _gpu_candidates(
    graphs: GraphSet, device_id: int, stream: object = None, engines: str | Path | None = None
) -> list[tuple[str, Callable[[], Backend]]]:
    """GPU backends, most preferred first: native TensorRT, TensorRT for RTX, ONNX Runtime CUDA."""

    def tensorrt(library: str) -> Backend:
        from .backends.tensorrt import load_tensorrt

        return load_tensorrt(graphs, library, device_id, stream, engines)

    return [
        *((library, partial(tensorrt, library)) for library in LIBRARIES),
        ("onnxruntime-cuda", lambda: OnnxRuntimeBackend(graphs, device="cuda", device_id=device_id)),
    ]


def select_backend(
    device: str,
    graphs: GraphSet,
    threads: int | None = None,
    stream: object = None,
    engines: str | Path | None = None,
) -> Backend:
    """``auto``: first GPU backend that loads, else CPU (logging why); ``cuda``: a GPU or an error."""
    kind, device_id = _parse_device(device)
    if kind == "cpu":
        return OnnxRuntimeBackend(graphs, device="cpu", threads=threads)
    try:
        name, backend, skipped = first_available(_gpu_candidates(graphs, device_id, stream, engines))
    except BackendUnavailableError as exc:
        if kind == "cuda":
            raise BackendUnavailableError(f"device='cuda' but no GPU backend can run here: {exc}") from None
        logger.info("using onnxruntime-cpu: %s", exc)
        return OnnxRuntimeBackend(graphs, device="cpu", threads=threads)
    logger.info("using %s%s", name, f" (skipped {'; '.join(skipped)})" if skipped else "")
    return backend


def load_kokoro(
    device: str = "auto",
    *,
    graphs: str | Path | None = None,
    weights: str | Path | None = None,
    voices_dir: str | Path | None = None,
    lang: str = "en-us",
    local_files_only: bool | None = None,
    threads: int | None = None,
    cuda_stream: object = None,
    engines: str | Path | None = None,
    decode_window_seconds: float | None = None,
    precision: str = "fp32",
) -> KokoroModel:
    """Load Kokoro for synthesis on ``device`` (``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``).

    ``auto`` prefers a TensorRT engine (native, then TensorRT for RTX), then ONNX Runtime CUDA, then
    ONNX Runtime CPU, and logs the choice; ``cuda`` raises :class:`BackendUnavailableError` instead of
    falling back. ``engines`` is a folder of engine sets built with ``kokoro-trt build --out`` (one per
    GPU architecture; the set for this GPU is used), by default the cache.
    ``cuda_stream`` (a ``torch.cuda.Stream``, a raw ``cudaStream_t`` or anything with
    ``__cuda_stream__``) is the stream the TensorRT backend runs and synchronises on, so audio can run
    beside the caller's other GPU work; other backends use their own stream.
    ``decode_window_seconds`` (at least 1) renders long chunks in decoder calls of at most that much
    audio, cut at pauses: 6 s keeps whole-script synthesis ~300 MB smaller on the CPU, at a small cost
    in quality (see :mod:`kokoro_trt.runtime.windows`); by default each chunk is rendered whole.
    ``precision="int8"`` (opt-in; ``device`` ``"cpu"`` or ``"auto"``, which then means the CPU) runs a
    statically quantised decoder on ONNX Runtime CPU, duration and prosody staying FP32: ~1.2x faster
    whole-text synthesis at the same WER and DNSMOS, but not the same samples (``docs/int8.md``). Its
    graph is built by ``kokoro-trt export --int8``, or here on first use (~30-60 s, once) when the
    exporter is installed.
    """
    kind, _ = _parse_device(device)
    _check_precision(precision, kind)
    config = ModelConfig.default()
    window_frames(decode_window_seconds, config.samples_per_frame)  # a bad value fails before any work
    graph_set = resolve_graphs(graphs, weights=weights, config=config, local_files_only=local_files_only)
    int8_decoder = None
    if precision == "int8":  # may quantise, importing onnx: before the G2P loads, as resolve_graphs
        from .int8 import ensure_int8_decoder

        int8_decoder = ensure_int8_decoder(
            graph_set, voices_dir=voices_dir, local_files_only=local_files_only, threads=threads
        )
        logger.info("precision='int8': using onnxruntime-cpu with the INT8 decoder %s", int8_decoder)
    # The G2P loads from here on: after resolve_graphs, as an export imports torch, which must not race its imports.
    if int8_decoder is not None:
        make_backend: Callable[[], Backend] = partial(
            OnnxRuntimeBackend, graph_set, device="cpu", threads=threads, int8_decoder=int8_decoder
        )
    else:
        make_backend = partial(select_backend, device, graph_set, threads, cuda_stream, engines)
    return assemble_model(
        make_backend,
        config,
        lang=lang,
        voices_dir=voices_dir,
        local_files_only=local_files_only,
        decode_window_seconds=decode_window_seconds,
    )
