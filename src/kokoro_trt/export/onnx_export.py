"""Write the three stage graphs to ONNX with dynamic token and frame axes."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch

from ..errors import ExportError
from .kmodel import fold_weight_norm
from .stages import DecoderStage, DurationStage, ProsodyStage

OPSET = 17
GRAPH_NAMES = ("duration", "prosody", "decoder")


@dataclass(frozen=True)
class GraphSpec:
    """How one stage is traced: its inputs, outputs and which of their axes are dynamic."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]]


SPECS = {
    "duration": GraphSpec(
        "duration",
        ("input_ids", "style", "speed"),
        ("durations", "d", "t_en"),
        {"input_ids": {1: "tokens"}, "durations": {0: "tokens"}, "d": {1: "tokens"}, "t_en": {2: "tokens"}},
    ),
    "prosody": GraphSpec(
        "prosody",
        ("d", "frame_index", "style"),
        ("f0", "n"),
        {"d": {1: "tokens"}, "frame_index": {0: "frames"}, "f0": {1: "f0_frames"}, "n": {1: "f0_frames"}},
    ),
    "decoder": GraphSpec(
        "decoder",
        ("t_en", "frame_index", "f0", "n", "style", "noise"),
        ("audio",),
        {
            "t_en": {2: "tokens"},
            "frame_index": {0: "frames"},
            "f0": {1: "f0_frames"},
            "n": {1: "f0_frames"},
            "noise": {1: "samples"},
            "audio": {0: "samples"},
        },
    ),
}


def _sample_inputs(kmodel: torch.nn.Module, samples_per_frame: int) -> dict[str, tuple[torch.Tensor, ...]]:
    """Small, shape-consistent example inputs for tracing each stage."""
    tokens = 12
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(1, 100, (1, tokens), generator=generator)
    input_ids[0, 0] = input_ids[0, -1] = 0
    style = torch.randn(1, 256, generator=generator) * 0.1
    speed = torch.tensor([1.0])
    with torch.no_grad():
        _, d, t_en = DurationStage(kmodel)(input_ids, style, speed)
    frame_index = torch.repeat_interleave(torch.arange(tokens), torch.full((tokens,), 3))
    frames = frame_index.shape[0]
    f0 = torch.full((1, 2 * frames), 120.0)
    n = torch.zeros(1, 2 * frames)
    noise = torch.randn(1, frames * samples_per_frame, generator=generator)
    return {
        "duration": (input_ids, style, speed),
        "prosody": (d, frame_index, style),
        "decoder": (t_en, frame_index, f0, n, style, noise),
    }


def export_graphs(
    kmodel: torch.nn.Module,
    out_dir: str | Path,
    *,
    samples_per_frame: int = 600,
    opset: int = OPSET,
    on_graph: Callable[[str], None] | None = None,
    folded_snakes: bool = True,
) -> dict[str, Path]:
    """Export ``kmodel`` (weight norm is folded in place) as ``duration``, ``prosody``, ``decoder``.

    ``on_graph(name)`` is called after each graph is written (for progress displays);
    ``folded_snakes=False`` exports upstream's unfolded Snake blocks (a baseline for benchmarks).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kmodel = fold_weight_norm(kmodel.eval())
    modules = {
        "duration": DurationStage(kmodel),
        "prosody": ProsodyStage(kmodel),
        "decoder": DecoderStage(kmodel, folded_snakes),
    }
    examples = _sample_inputs(kmodel, samples_per_frame)
    paths = {}
    for name in GRAPH_NAMES:
        spec = SPECS[name]
        path = out_dir / f"{name}.onnx"
        tmp = path.with_suffix(".onnx.tmp")
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    modules[name],
                    examples[name],
                    str(tmp),
                    input_names=list(spec.inputs),
                    output_names=list(spec.outputs),
                    dynamic_axes=spec.dynamic_axes,
                    opset_version=opset,
                    do_constant_folding=True,
                    dynamo=False,
                )
        except Exception as exc:  # the exporter raises many types; report one
            tmp.unlink(missing_ok=True)
            raise ExportError(f"exporting the {name} graph failed: {exc}") from exc
        with torch.no_grad():
            outputs = modules[name](*examples[name])
        tensors = [*examples[name], *(outputs if isinstance(outputs, tuple) else (outputs,))]
        _pin_static_dims(tmp, spec, {n: tuple(t.shape) for n, t in zip(spec.inputs + spec.outputs, tensors)})
        tmp.replace(path)
        paths[name] = path
        if on_graph:
            on_graph(name)
    return paths


def _pin_static_dims(path: Path, spec: GraphSpec, shapes: dict[str, tuple[int, ...]]) -> None:
    """Give every non-dynamic input/output axis its traced size, and dynamic ones their names.

    The tracer names some fixed axes (``Transposed_dim_0``) as if they were dynamic; TensorRT
    profiles and the inventory need to see that only the declared axes vary.
    """
    model = onnx.load(str(path))
    for value in [*model.graph.input, *model.graph.output]:
        dynamic = spec.dynamic_axes.get(value.name, {})
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if axis in dynamic:
                dim.dim_param = dynamic[axis]
            else:
                dim.dim_value = shapes[value.name][axis]
    onnx.save(model, str(path))
