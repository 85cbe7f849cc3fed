"""The CPU decoder graph with every Snake block as one ``AdaSnake`` node (see :mod:`.snake_kernel`).

:func:`fuse_snakes` rewrites each ``InstanceNormalization → Sin → Mul(s, s) → Add(u, ·)`` of the exported
decoder (export/snake.py's folded blocks) into ``kokoro_trt.AdaSnake(x, scale, bias)``; everything else,
weights included, is untouched. :func:`snake_decoder` keeps the result beside its source as
``decoder-snake.onnx`` (``decoder-int8-snake.onnx`` for the INT8 decoder) with a record
(``decoder-snake.json``: the sha256 of the decoder it came from, of this code, and of itself), so a
damaged, stale or foreign file is rebuilt, never run. The GPU backends keep the stock decoder.
Rewriting needs ``onnx`` (the ``export`` extra; ~3 s once); ``kokoro-trt export`` writes it too, so a
runtime-only install of exported graphs has it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..graphs import MANIFEST_NAME, GraphSet
from ..storage import (
    atomic_write,
    cache_lock,
    mismatched_files,
    quarantine,
    remove_stale_temporaries,
    replacing,
    sha256_file,
)
from .snake_kernel import DOMAIN, OP_TYPE, snake_kernel_library

if TYPE_CHECKING:
    import onnx

logger = logging.getLogger(__name__)

EPSILON = 1e-5
"""The kernel's instance-norm epsilon (torch's default, the exported decoder's): other norms stay as they are."""


@functools.cache
def code_sha256() -> str:
    """sha256 of this module's source (the rewrite) and of the kernel's (the op's meaning)."""
    here = Path(__file__).parent
    return hashlib.sha256((here / "snake_graph.py").read_bytes() + (here / "snake_kernel.c").read_bytes()).hexdigest()


def fuse_snakes(model: onnx.ModelProto) -> int:
    """Rewrite ``model``'s Snake blocks in place into ``AdaSnake`` nodes; returns how many."""
    from onnx import helper

    nodes = list(model.graph.node)
    readers: dict[str, list[int]] = defaultdict(list)  # tensor name -> indices of the nodes reading it
    for index, node in enumerate(nodes):
        for name in dict.fromkeys(node.input):
            readers[name].append(index)
    outputs = {output.name for output in model.graph.output}
    fused: dict[int, Any] = {}
    dropped: set[int] = set()
    for index, norm in enumerate(nodes):
        pattern = _snake_after(norm, nodes, readers, outputs)
        if pattern is None:
            continue
        add, removed = pattern
        fused[index] = helper.make_node(
            OP_TYPE, list(norm.input), [nodes[add].output[0]], name=f"{norm.name}/{OP_TYPE}", domain=DOMAIN
        )
        dropped.update(removed)
    if fused:
        kept = [fused.get(index, node) for index, node in enumerate(nodes) if index not in dropped]
        del model.graph.node[:]
        model.graph.node.extend(kept)
        model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    return len(fused)


def _snake_after(
    norm: Any, nodes: list[Any], readers: dict[str, list[int]], outputs: set[str]
) -> tuple[int, list[int]] | None:
    """For an instance norm ``u`` read only by ``Sin`` and ``Add(u, sin(u)²)``: that Add's index and those
    of the nodes the fused op replaces (duplicate, unused ``Mul(s, s)`` included); else ``None``."""
    if norm.op_type != "InstanceNormalization" or norm.output[0] in outputs:
        return None
    epsilon = next((a.f for a in norm.attribute if a.name == "epsilon"), EPSILON)
    if abs(epsilon - EPSILON) > 1e-9:
        return None
    u = norm.output[0]
    sines = [i for i in readers[u] if nodes[i].op_type == "Sin"]
    adds = [i for i in readers[u] if nodes[i].op_type == "Add"]
    if len(readers[u]) != 2 or len(sines) != 1 or len(adds) != 1:
        return None
    s = nodes[sines[0]].output[0]
    squares = readers[s]
    if s in outputs or not squares or any(nodes[i].op_type != "Mul" or list(nodes[i].input) != [s, s] for i in squares):
        return None
    used = [i for i in squares if readers[nodes[i].output[0]] or nodes[i].output[0] in outputs]
    if len(used) != 1:
        return None
    square = nodes[used[0]].output[0]
    if readers[square] != adds or sorted(nodes[adds[0]].input) != sorted([u, square]):
        return None
    return adds[0], [sines[0], *squares, adds[0]]


def _files(source: Path) -> tuple[Path, Path, Path]:
    """The fused graph of ``source`` (``decoder.onnx`` → ``decoder-snake.onnx``), its record and its stamps."""
    stem = f"{source.stem}-snake"
    return source.with_name(f"{stem}.onnx"), source.with_name(f"{stem}.json"), source.with_name(f"verified-{stem}.json")


def _source_sha256(graphs: GraphSet, source: Path) -> str | None:
    """The sha256 the manifest on disk records for ``source`` (the FP32 decoder, or the INT8 one it lists,
    which may have been built after ``graphs`` was read)."""
    try:
        manifest = json.loads((graphs.directory / MANIFEST_NAME).read_text())
        entries = [*manifest["graphs"].values(), manifest.get("int8") or {}]
    except (OSError, ValueError, KeyError, AttributeError):
        return None
    return next((e.get("sha256") for e in entries if isinstance(e, dict) and e.get("file") == source.name), None)


def _current(source: Path, source_sha256: str) -> Path | None:
    """The fused graph when it was made from this decoder (``source_sha256``) by this code and is intact;
    damage is quarantined."""
    path, record_path, verified = _files(source)
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not path.is_file():
        return None
    if record.get("source_sha256") != source_sha256 or record.get("code_sha256") != code_sha256():
        return None
    if mismatched_files({path: record.get("sha256", "")}, verified):
        quarantine(path, "no longer matches the sha256 recorded when it was written")
        return None
    return path


def snake_decoder(graphs: GraphSet, source: Path | None = None) -> Path | None:
    """The fused form of ``source`` (a decoder of ``graphs``, by default the FP32 one), written on first
    use; ``None`` when it cannot be (no ``onnx``, a read-only folder, no Snake block): ``source`` then runs."""
    source = source or graphs.path("decoder")
    source_sha256 = _source_sha256(graphs, source)
    if source_sha256 is None:
        logger.warning("%s is not in %s's manifest: it runs as it is", source.name, graphs.directory)
        return None
    current = _current(source, source_sha256)
    if current is not None:
        return current
    try:
        import onnx
    except ImportError:
        logger.info("no fused form of %s and no onnx to write it: the stock decoder runs", source)
        return None
    target, record_path, _ = _files(source)
    try:
        with cache_lock(target):
            current = _current(source, source_sha256)  # another process may have written it meanwhile
            if current is not None:
                return current
            remove_stale_temporaries(target.parent, [target.name, record_path.name])
            model = onnx.load(str(source))
            count = fuse_snakes(model)
            if count == 0:
                logger.warning("no Snake block found in %s: the stock decoder runs", source)
                return None
            record_path.unlink(missing_ok=True)  # no reader pairs the new file with the old record
            with replacing(target) as f:
                f.write(model.SerializeToString())
            record = {
                "source_sha256": source_sha256,
                "code_sha256": code_sha256(),
                "sha256": sha256_file(target),
                "fused": count,
            }
            atomic_write(record_path, json.dumps(record, indent=2))
    except OSError as exc:
        logger.warning("could not write the fused decoder beside %s (%s): the stock decoder runs", source, exc)
        return None
    logger.info("wrote the fused decoder (%d Snake blocks): %s", count, target)
    return target


def fused_cpu_decoder(graphs: GraphSet, source: Path | None = None) -> tuple[Path, Path] | None:
    """(fused form of ``source``, kernel library) for ONNX Runtime CPU, or ``None`` to run ``source`` as it is."""
    library = snake_kernel_library()
    if library is None:
        return None
    graph = snake_decoder(graphs, source)
    return None if graph is None else (graph, library)
