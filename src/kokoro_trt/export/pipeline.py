"""``kokoro-trt export``: weights → KModel → three ONNX graphs, cached by a hash of their inputs
(:class:`~.key.ExportKey`)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..assets import WeightsSource, cache_lock, resolve_weights
from ..config import ModelConfig
from ..errors import CorruptFileError, ExportError
from ..graphs import MANIFEST_NAME, GraphSet
from ..storage import atomic_write, quarantine, remove_stale_temporaries, sha256_file, temporary_dir
from .inventory import inventory
from .key import ExportKey
from .kmodel import StateDict, build_kmodel
from .onnx_export import GRAPH_NAMES, OPSET, export_graphs

logger = logging.getLogger(__name__)


def load_state_dict(weights: WeightsSource, config: ModelConfig) -> StateDict:
    """Read a Kokoro ``.pth`` checkpoint, or import a kokoro-onnx graph's weights."""
    if weights.format == "pth":
        state = torch.load(weights.path, map_location="cpu", weights_only=True)
        # Official checkpoints were saved from DataParallel: keys may carry a "module." prefix.
        return {key: {k.removeprefix("module."): v for k, v in sd.items()} for key, sd in state.items()}
    from .importer import import_kokoro_onnx

    state, report = import_kokoro_onnx(weights.path, config.raw)
    logger.info(
        "imported %d tensors from %s (%.2f%% of parameter values); %d left at their init value",
        report.mapped,
        weights.path.name,
        100 * report.mapped_fraction,
        len(report.unmapped),
    )
    return state


def export_model(
    weights: str | Path | WeightsSource | None = None,
    config: ModelConfig | None = None,
    *,
    out_dir: str | Path | None = None,
    force: bool = False,
    local_files_only: bool | None = None,
    progress: bool = True,
) -> GraphSet:
    """Export the stage graphs for ``weights`` (resolved as :func:`resolve_weights` does).

    Returns the cached graph set when one with the same key exists, unless ``force``.
    """
    config = config or ModelConfig.default()
    if not isinstance(weights, WeightsSource):
        weights = resolve_weights(weights, local_files_only=local_files_only)
    key = ExportKey.of(weights, config)
    target = Path(out_dir) if out_dir else key.default_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with cache_lock(target):
        remove_stale_temporaries(target.parent, [target.name])
        cached = None if force else _current_graphs(target, key)
        if cached is not None:
            logger.info("using cached graphs in %s", target)
            return cached
        return _export(weights, config, {"key": key.key, **key.parts}, target, progress)


def _current_graphs(target: Path, key: ExportKey) -> GraphSet | None:
    """The intact graph set of ``key`` in ``target``; damaged graphs are quarantined (and so re-exported)."""
    try:
        return key.find(target)
    except CorruptFileError as exc:
        for path in exc.paths:
            quarantine(Path(path), "no longer matches the sha256 recorded at export")
        logger.warning("exporting the graphs in %s again", target)
        return None


def _export(
    weights: WeightsSource, config: ModelConfig, keys: dict[str, str], target: Path, progress: bool
) -> GraphSet:
    """Export into a fresh folder beside ``target``, then move the graphs in and the manifest last."""
    started = time.perf_counter()
    staging = temporary_dir(target)
    try:
        with tqdm(total=len(GRAPH_NAMES) + 3, desc="kokoro-trt export", unit="step", disable=not progress) as bar:
            bar.set_postfix_str("loading weights")
            state_dict = load_state_dict(weights, config)
            bar.update()
            bar.set_postfix_str("building model")
            kmodel = build_kmodel(config, state_dict)
            bar.update()
            bar.set_postfix_str("exporting graphs")
            paths = export_graphs(
                kmodel, staging, samples_per_frame=config.samples_per_frame, on_graph=lambda _: bar.update()
            )
            bar.set_postfix_str("checking graphs")
            problems = [p for path in paths.values() for p in inventory(path).problems]
            if problems:
                raise ExportError("exported graphs are not engine-ready: " + "; ".join(problems))
            bar.update()
        manifest = {
            **keys,
            "weights": str(weights.path),
            "weights_origin": weights.origin,
            "opset": OPSET,
            "samples_per_frame": config.samples_per_frame,
            "torch": torch.__version__,
            "graphs": {name: {"file": path.name, "sha256": sha256_file(path)} for name, path in paths.items()},
            "seconds": round(time.perf_counter() - started, 1),
        }
        target.mkdir(parents=True, exist_ok=True)
        (target / MANIFEST_NAME).unlink(missing_ok=True)  # readers see an incomplete set, never a mixed one
        for path in paths.values():
            os.replace(path, target / path.name)
        atomic_write(target / MANIFEST_NAME, json.dumps(manifest, indent=2))  # last: marks the set complete
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("exported graphs to %s in %.1f s", target, manifest["seconds"])
    return GraphSet.load(target)
