"""The opt-in INT8 decoder (``kokoro-trt export --int8``, ``load_kokoro(precision="int8")``).

Static (calibrated) QDQ quantisation of the decoder graph, the layout ``docs/int8.md`` measured as
``mixed-low-rate-pct``: only ``Conv`` nodes, per-channel symmetric S8 weights, U8 activations,
Percentile 99.99 ranges, and FP32 kept where INT8 was audible (:data:`ALWAYS_FP32`,
:data:`LOW_RATE_FP32`): 40 of the real decoder's 70 Convs become INT8 (ONNX Runtime fuses
``DQ → Conv → Q`` into ``QLinearConv``). Duration and prosody stay FP32.

The result, ``decoder-int8.onnx``, sits beside the FP32 graphs and is recorded in their manifest
(``"int8"``: file, sha256, the recipe and its sha256, the sha256 of the FP32 decoder it came from), so
:func:`check_int8_decoder` refuses one that is damaged, stale (another recipe) or made from another
decoder; :func:`ensure_int8_decoder` then builds it again.

Checking needs nothing beyond the runtime; quantising needs ``onnx`` (the ``export`` extra), which
``onnxruntime.quantization`` imports. It takes ~30-60 s on 2 cores: the FP32 model speaks the
calibration sentences once to capture real decoder inputs, then the graph is calibrated on them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from tqdm.auto import tqdm

from ..config import SAMPLE_RATE, ModelConfig
from ..errors import CorruptFileError, ExportError, ModelNotFoundError
from ..graphs import MANIFEST_NAME, GraphSet
from ..storage import (
    atomic_write,
    cache_lock,
    mismatched_files,
    quarantine,
    remove_stale_temporaries,
    sha256_file,
    sha256_text,
    temporary_dir,
)
from ..voices import DEFAULT_VOICE, FALLBACK_VOICE
from ..voices.embedded import load_embedded
from .assemble import assemble_model
from .backends.base import TextFeatures
from .backends.ort import OnnxRuntimeBackend, decoder_feeds
from .model import KokoroModel

logger = logging.getLogger(__name__)

INT8_FILE = "decoder-int8.onnx"
INT8_ENTRY = "int8"
"""The manifest key of the INT8 decoder's record."""
VERIFIED_INT8_NAME = "verified-int8.json"
"""Stamps of the INT8 graph when it last matched its sha256 (kept apart from the FP32 graphs' stamps)."""
EXPORT_HINT = "`kokoro-trt export --int8` (needs `pip install 'kokoro-trt[export]'`)"

ALWAYS_FP32 = ("/Conv", "/F0_conv/Conv", "/N_conv/Conv")
"""Convs never quantised: the STFT of the harmonic source (a fixed transform, not a learned layer)
and the two 1-channel convs of the F0 and energy curves (negligible time)."""

LOW_RATE_FP32 = ("/resblocks.3", "/resblocks.4", "/resblocks.5", "/noise_res.1", "/noise_convs.", "/conv_post/")
"""Everything at the generator's last rate (4800 steps a second) and the noise branch's input convs:
the layers whose INT8 error showed most in a per-group sensitivity probe (docs/int8.md)."""

CALIBRATION_SENTENCES = (
    "The library opens at nine on weekdays and closes early on public holidays.",
    "Please remember to water the tomatoes while I am away; the forecast says it will be hot and dry.",
    "Could you tell me which platform the train to the airport leaves from?",
    "She laughed, shook her head, and said that nobody had ever asked her that question before.",
    "Bright colours, loud music and the smell of fresh bread filled the little market square.",
    "Why not?",
)
"""English, none of it from the benchmark script or the tests' passages (~26 s of audio)."""

CALIBRATION_VOICES = ("af_heart", "am_michael")
"""Stock American English voices, one per sentence in turn: the default voice and a lower male one, so
the ranges cover both pitch registers. A voice the store cannot find (no voices folder, not in the
Hugging Face cache, offline) is skipped; when none is found, the embedded fallback voice
(:data:`~kokoro_trt.voices.FALLBACK_VOICE`, always available) speaks them all, so an offline machine can
still quantise. The voices used are recorded in the manifest."""


@functools.cache
def code_sha256() -> str:
    """sha256 of this module's source: the quantiser's code, part of every recipe's identity."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


@dataclass(frozen=True)
class Int8Recipe:
    """How a decoder is quantised: activation type, calibration, the Convs left FP32, and the data.

    Weights are always per-channel symmetric S8; only ``Conv`` is quantised; :data:`ALWAYS_FP32` always
    stays FP32. :attr:`identity` hashes every field but ``note``, and this module's code (as the export
    key hashes the exporter's): a graph made by another recipe or another version of this code is stale.
    onnxruntime's version is recorded, not hashed: a graph it quantised stays valid for later versions.
    """

    activations: str = "U8"
    """QDQ activation type: ``U8`` (asymmetric) or ``S8`` (symmetric)."""
    calibration: str = "MinMax"
    """``onnxruntime.quantization.CalibrationMethod`` name: MinMax, Percentile or Entropy."""
    keep_fp32: tuple[str, ...] = ()
    """Substrings of Conv node names to leave FP32, besides :data:`ALWAYS_FP32`."""
    percentile: float = 99.99
    """For Percentile calibration."""
    sentences: tuple[str, ...] = CALIBRATION_SENTENCES
    voices: tuple[str, ...] = CALIBRATION_VOICES
    seed: int = 0
    """Noise seed of the calibration speech."""
    note: str = ""

    @property
    def identity(self) -> str:
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k != "note"}
        fields.update(always_fp32=ALWAYS_FP32, code_sha256=code_sha256())
        return sha256_text(json.dumps(fields, sort_keys=True))

    def fp32_nodes(self, conv_names: Iterable[str]) -> list[str]:
        """The Conv nodes of ``conv_names`` this recipe leaves FP32."""
        return [name for name in conv_names if name in ALWAYS_FP32 or any(part in name for part in self.keep_fp32)]

    def describe(self) -> dict[str, Any]:
        """The recipe as recorded in the manifest."""
        return {**dataclasses.asdict(self), "always_fp32": list(ALWAYS_FP32), "sha256": self.identity}


PRODUCT_RECIPE = Int8Recipe(
    calibration="Percentile",
    keep_fp32=LOW_RATE_FP32,
    note="mixed-low-rate-pct: frame-rate blocks, resblocks 0-2 (800 steps/s) and noise_res.0 INT8; U8, Percentile",
)
"""What ``kokoro-trt export --int8`` builds and ``load_kokoro(precision="int8")`` accepts."""


# -- checking (no onnx needed) ---------------------------------------------------------------------


def int8_path(graphs: GraphSet) -> Path:
    entry = graphs.manifest.get(INT8_ENTRY) or {}
    return graphs.directory / entry.get("file", INT8_FILE)


def check_int8_decoder(graphs: GraphSet, recipe: Int8Recipe | None = None) -> Path:
    """The INT8 decoder of ``graphs``, when it is current: built by ``recipe`` (default
    :data:`PRODUCT_RECIPE`) from this FP32 decoder, and unchanged since.

    Raises :class:`ModelNotFoundError` when there is none or it is stale, :class:`CorruptFileError` when
    its content no longer hashes to the sha256 recorded when it was built.
    """
    recipe = recipe or PRODUCT_RECIPE
    entry = graphs.manifest.get(INT8_ENTRY)
    path = int8_path(graphs)
    problem = None
    if not isinstance(entry, dict) or not path.is_file():
        problem = "none has been built"
    elif entry.get("recipe", {}).get("sha256") != recipe.identity:
        problem = "it was built by another quantisation recipe"
    elif entry.get("source_sha256") != graphs.manifest["graphs"]["decoder"].get("sha256"):
        problem = "it was quantised from another FP32 decoder"
    if problem:
        raise ModelNotFoundError(f"No current INT8 decoder in {graphs.directory} ({problem}). Build it: {EXPORT_HINT}.")
    assert isinstance(entry, dict)
    if mismatched_files({path: entry["sha256"]}, graphs.directory / VERIFIED_INT8_NAME):
        raise CorruptFileError(
            f"{path.name} in {graphs.directory} no longer matches the sha256 in {MANIFEST_NAME}: it was damaged "
            f"after it was built. Build it again: {EXPORT_HINT}.",
            (str(path),),
        )
    return path


def ensure_int8_decoder(
    graphs: GraphSet,
    recipe: Int8Recipe | None = None,
    *,
    force: bool = False,
    voices_dir: str | Path | None = None,
    local_files_only: bool | None = None,
    threads: int | None = None,
    progress: bool = True,
    model: KokoroModel | None = None,
) -> Path:
    """The current INT8 decoder of ``graphs`` (see :func:`check_int8_decoder`), quantised first when there
    is none, it is stale or damaged (a damaged one is moved aside to ``*.corrupt``), or ``force``.

    The calibration speech comes from ``model`` when given (an FP32 model over these graphs, already
    loaded), else from one loaded here on ONNX Runtime CPU with ``voices_dir`` and ``threads``.

    Quantising needs the ``export`` extra (onnx); without it, the error of :func:`check_int8_decoder`
    is raised, naming ``kokoro-trt export --int8``. One process builds at a time (the graphs' lock).
    """
    recipe = recipe or PRODUCT_RECIPE
    if not force:
        try:
            return check_int8_decoder(graphs, recipe)
        except (ModelNotFoundError, CorruptFileError) as exc:
            try:
                import onnx  # noqa: F401
                import onnxruntime.quantization  # noqa: F401
            except ImportError:
                raise exc from None
    with cache_lock(graphs.directory):
        remove_stale_temporaries(graphs.directory, [INT8_FILE])
        graphs = GraphSet.load(graphs.directory)  # another process may have built it meanwhile
        if not force:
            try:
                return check_int8_decoder(graphs, recipe)
            except CorruptFileError as exc:
                for path in exc.paths:
                    quarantine(Path(path), "no longer matches the sha256 recorded when it was built")
            except ModelNotFoundError as exc:
                logger.info("%s Quantising it now.", str(exc).split(" Build it")[0])
        model = model or calibration_model(graphs, voices_dir, local_files_only, threads)
        return _build(graphs, recipe, model, progress)


# -- building (needs onnx) -------------------------------------------------------------------------


def _build(graphs: GraphSet, recipe: Int8Recipe, model: KokoroModel, progress: bool) -> Path:
    """Calibrate and quantise into a fresh folder, move the graph in, then record it in the manifest."""
    started = time.perf_counter()
    target = graphs.directory / INT8_FILE
    staging = temporary_dir(target)
    try:
        with tqdm(
            total=len(recipe.sentences) + 2, desc="kokoro-trt export --int8", unit="step", disable=not progress
        ) as bar:
            bar.set_postfix_str("speaking the calibration sentences")
            voices, voices_used = calibration_voices(model, recipe.voices)
            feeds = capture_decoder_feeds(model, recipe.sentences, voices, recipe.seed, on_sentence=bar.update)
            bar.set_postfix_str("shape inference")
            source, how = preprocess(graphs.path("decoder"), staging / "decoder-pre.onnx")
            bar.update()
            bar.set_postfix_str(f"calibrating on {len(feeds)} inputs and quantising")
            info = quantize_graph(source, staging / INT8_FILE, recipe, FeedReader(feeds))
            bar.update()
        counts = conv_precision(staging / INT8_FILE)
        if counts["int8"] == 0:
            raise ExportError(f"quantising the decoder left no Conv in INT8 ({counts})")
        samples = sum(f["frame_index"].shape[0] for f in feeds) * graphs.samples_per_frame
        entry = {
            "file": INT8_FILE,
            "sha256": sha256_file(staging / INT8_FILE),
            "source_sha256": graphs.manifest["graphs"]["decoder"]["sha256"],
            "recipe": recipe.describe(),
            "calibration": {
                "voices": voices_used,
                "sentences": len(recipe.sentences),
                "inputs": len(feeds),
                "audio_s": round(samples / SAMPLE_RATE, 1),
            },
            "convs": counts,
            "preprocess": how,
            "onnxruntime": onnxruntime.__version__,
            "quantize_s": info["quantize_s"],
            "seconds": round(time.perf_counter() - started, 1),
        }
        manifest = json.loads((graphs.directory / MANIFEST_NAME).read_text())
        manifest.pop(INT8_ENTRY, None)
        atomic_write(graphs.directory / MANIFEST_NAME, json.dumps(manifest, indent=2))  # no stale record
        (graphs.directory / VERIFIED_INT8_NAME).unlink(missing_ok=True)
        (staging / INT8_FILE).replace(target)
        manifest[INT8_ENTRY] = entry
        atomic_write(graphs.directory / MANIFEST_NAME, json.dumps(manifest, indent=2))  # last: marks it built
    except OSError as exc:
        raise ExportError(f"could not write the INT8 decoder into {graphs.directory}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info(
        "quantised the decoder to INT8 in %.1f s (%d of %d Convs INT8): %s",
        entry["seconds"],
        counts["int8"],
        counts["int8"] + counts["fp32"],
        target,
    )
    return check_int8_decoder(GraphSet.load(graphs.directory), recipe)


def calibration_model(
    graphs: GraphSet,
    voices_dir: str | Path | None = None,
    local_files_only: bool | None = None,
    threads: int | None = None,
) -> KokoroModel:
    """The FP32 model on ONNX Runtime CPU over ``graphs``, with the US English front end."""
    return assemble_model(
        functools.partial(OnnxRuntimeBackend, graphs, device="cpu", threads=threads),
        ModelConfig.default(),
        voices_dir=voices_dir,
        local_files_only=local_files_only,
    )


def calibration_voices(model: KokoroModel, wanted: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """The voices to speak the calibration sentences in, and what to record of them.

    The voices of ``wanted`` the model's store finds; when it finds none, the default voice's name, which
    the store then serves with the embedded :data:`~kokoro_trt.voices.FALLBACK_VOICE` pack (through the
    English front end, as it does for any offline user).
    """
    fallback = load_embedded(FALLBACK_VOICE).reshape(-1, 256)
    found = []
    for name in wanted:
        try:
            pack = model.voices.pack(name)
        except ModelNotFoundError:
            continue
        if not np.array_equal(pack, fallback):  # the default voice falls back to it silently
            found.append(name)
    if found:
        return tuple(found), found
    logger.warning("none of the calibration voices %s was found; calibrating with %s", wanted, FALLBACK_VOICE)
    return (DEFAULT_VOICE,), [f"{FALLBACK_VOICE} (embedded fallback)"]


class _RecordingBackend:
    """A backend that records the decoder's inputs, as the runtime prepares them, before decoding."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.feeds: list[dict[str, np.ndarray]] = []

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def output_devices(self) -> tuple[str, ...]:
        return tuple(self.inner.output_devices)

    def durations(self, input_ids: np.ndarray, style: np.ndarray, speed: float) -> TextFeatures:
        return self.inner.durations(input_ids, style, speed)

    def prosody(self, features: TextFeatures, frame_index: np.ndarray, style: np.ndarray) -> Any:
        return self.inner.prosody(features, frame_index, style)

    def decode(self, *args: Any) -> None:
        """Record the decoder's inputs (``decoder_feeds`` of the first six arguments), then decode."""
        feeds = decoder_feeds(*args[:6])
        self.feeds.append({k: np.ascontiguousarray(v).copy() for k, v in feeds.items()})
        self.inner.decode(*args)


def capture_decoder_feeds(
    model: KokoroModel,
    texts: Sequence[str],
    voices: Sequence[str],
    seed: int,
    on_sentence: Callable[[], object] | None = None,
) -> list[dict[str, np.ndarray]]:
    """The decoder's inputs for every decoder call while ``model`` speaks ``texts`` (sentence ``i`` in
    ``voices[i % len(voices)]``, noise from ``seed``); ``model`` itself is left as it was."""
    recorder = _RecordingBackend(model.backend)
    speaker = KokoroModel(recorder, config=model.config, frontend=model.frontend, voices=model.voices)
    for i, text in enumerate(texts):
        speaker.synthesize(text, voices[i % len(voices)], seed=seed)
        if on_sentence is not None:
            on_sentence()
    return recorder.feeds


class FeedReader:
    """An ``onnxruntime.quantization.CalibrationDataReader`` over captured decoder inputs."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self.feeds = feeds
        self._next = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._next, None)

    def rewind(self) -> None:
        self._next = iter(self.feeds)

    def __len__(self) -> int:
        return len(self.feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._next = iter(self.feeds[start_index:end_index])


def conv_nodes(path: Path) -> list[str]:
    """Names of the ``Conv`` nodes of the graph at ``path``."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [node.name for node in graph.node if node.op_type == "Conv"]


def conv_precision(path: Path) -> dict[str, int]:
    """How many ``Conv`` nodes of a QDQ graph read a dequantised input (``int8``) and how many do not."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    dequantised = {out for node in graph.node if node.op_type == "DequantizeLinear" for out in node.output}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    int8 = sum(1 for node in convs if node.input[0] in dequantised)
    return {"int8": int8, "fp32": len(convs) - int8}


def preprocess(fp32: Path, out: Path) -> tuple[Path, str]:
    """``quant_pre_process`` (symbolic shape inference, basic optimisation) into ``out`` (kept when it
    exists), or the graph as it is when that gives up; returns the graph to quantise and what was done."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if out.is_file():
        return out, "quant_pre_process"
    try:
        quant_pre_process(str(fp32), str(out), auto_merge=True)
        return out, "quant_pre_process"
    except Exception as exc:  # noqa: BLE001 - shape inference on a large dynamic graph may give up
        return fp32, f"quant_pre_process failed ({type(exc).__name__}: {str(exc)[:200]}); graph used as exported"


def quantize_graph(
    source: Path, out: Path, recipe: Int8Recipe, reader: FeedReader, calibration_cache: Path | None = None
) -> dict[str, Any]:
    """``quantize_static`` of ``source`` into ``out`` by ``recipe``, calibrated on ``reader``.

    ``calibration_cache`` (optional) keeps the calibrated ranges per method (``<stem>-<method><suffix>``)
    so other recipes with the same calibration skip it. Returns Conv counts and the seconds it took.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    nodes = conv_nodes(source)
    exclude = recipe.fp32_nodes(nodes)
    reader.rewind()
    start = time.perf_counter()
    cache = {}
    if calibration_cache is not None:
        cache["calibration_cache_path"] = str(
            calibration_cache.with_name(f"{calibration_cache.stem}-{recipe.calibration}{calibration_cache.suffix}")
        )
    with contextlib.redirect_stdout(io.StringIO()) as printed:  # its calibrators print progress
        quantize_static(
            str(source),
            str(out),
            reader,
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"],
            per_channel=True,
            activation_type=QuantType.QUInt8 if recipe.activations == "U8" else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
            calibrate_method=getattr(CalibrationMethod, recipe.calibration),
            extra_options={
                "WeightSymmetric": True,
                "ActivationSymmetric": recipe.activations == "S8",
                "CalibStridedMinMax": 1,  # one input at a time: histogram calibrators keep every tensor of a batch
                "CalibPercentile": recipe.percentile,
            },
            **cache,
        )
    logger.debug("quantize_static: %s", printed.getvalue().strip())
    return {
        "conv_nodes": len(nodes),
        "conv_nodes_fp32": len(exclude),
        "quantize_s": round(time.perf_counter() - start, 1),
    }
