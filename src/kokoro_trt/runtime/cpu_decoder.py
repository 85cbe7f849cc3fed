"""The decoder graph ONNX Runtime CPU runs: the exported one rewritten for speed, kept in the cache.

Two rewrites: every Snake block as one ``AdaSnake`` node (:mod:`.snake_graph`, run by the C kernel of
:mod:`.snake_kernel`; exact to float32 rounding) and the long convolutions as matrix products by blocks, in
the frequency domain or Winograd's (:mod:`.spectral_conv`; the audio within 2e-5 of the graph's).
:func:`cpu_decoder` keeps the result beside its source as ``decoder-cpu.onnx`` (``decoder-int8-cpu.onnx``
for the INT8 decoder) with a record (``decoder-cpu.json``: the sha256 of the decoder it came from, of this
code, and of itself), so a damaged, stale or foreign file is rebuilt, never run. The GPU backends keep the
stock decoder. Rewriting needs ``onnx`` (the ``export`` extra; ~5 s once); ``kokoro-trt export`` writes it
too, so a runtime-only install of exported graphs has it. Without a C compiler the stock decoder runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path

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
from .snake_graph import fuse_snakes
from .snake_kernel import snake_kernel_library
from .spectral_conv import spectral_convs

logger = logging.getLogger(__name__)

_CODE = ("cpu_decoder.py", "snake_graph.py", "snake_kernel.c", "spectral_conv.py")
_FORMER_SUFFIX = "-snake"
"""What the file was called before the spectral rewrite: such files are removed when the new one is written."""


@functools.cache
def code_sha256() -> str:
    """sha256 of the rewrites' source and of the kernel's (the op's meaning)."""
    here = Path(__file__).parent
    return hashlib.sha256(b"".join((here / name).read_bytes() for name in _CODE)).hexdigest()


def _files(source: Path, suffix: str = "-cpu") -> tuple[Path, Path, Path]:
    """The rewritten graph of ``source`` (``decoder.onnx`` → ``decoder-cpu.onnx``), its record and its stamps."""
    stem = f"{source.stem}{suffix}"
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
    """The rewritten graph when it was made from this decoder (``source_sha256``) by this code and is intact;
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


def cpu_decoder(graphs: GraphSet, source: Path | None = None) -> Path | None:
    """The rewritten form of ``source`` (a decoder of ``graphs``, by default the FP32 one), written on first
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
        logger.info("no CPU form of %s and no onnx to write it: the stock decoder runs", source)
        return None
    target, record_path, _ = _files(source)
    try:
        with cache_lock(target):
            current = _current(source, source_sha256)  # another process may have written it meanwhile
            if current is not None:
                return current
            remove_stale_temporaries(target.parent, [target.name, record_path.name])
            model = onnx.load(str(source))
            snakes = fuse_snakes(model)
            if snakes == 0:
                logger.warning("no Snake block found in %s: the stock decoder runs", source)
                return None
            convolutions = spectral_convs(model)
            record_path.unlink(missing_ok=True)  # no reader pairs the new file with the old record
            with replacing(target) as f:
                f.write(model.SerializeToString())
            record = {
                "source_sha256": source_sha256,
                "code_sha256": code_sha256(),
                "sha256": sha256_file(target),
                "fused": snakes,
                "spectral": convolutions,
            }
            atomic_write(record_path, json.dumps(record, indent=2))
            for former in _files(source, _FORMER_SUFFIX):
                former.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("could not write the CPU decoder beside %s (%s): the stock decoder runs", source, exc)
        return None
    logger.info(
        "wrote the CPU decoder (%d Snake blocks, %d convolutions by blocks): %s",
        snakes,
        convolutions,
        target,
    )
    return target


def fused_cpu_decoder(graphs: GraphSet, source: Path | None = None) -> tuple[Path, Path] | None:
    """(CPU form of ``source``, kernel library) for ONNX Runtime CPU, or ``None`` to run ``source`` as it is."""
    library = snake_kernel_library()
    if library is None:
        return None
    graph = cpu_decoder(graphs, source)
    return None if graph is None else (graph, library)
