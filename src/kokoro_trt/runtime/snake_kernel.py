"""The decoder's custom-op library (``snake_kernel.c``): ``AdaSnake``, the instance norm + Snake in one
pass, and ``SpectralJoin``, the block convolutions' last copy (:mod:`.spectral_conv`).

ONNX Runtime runs the exported ``InstanceNormalization → Sin → Mul → Add`` of each Snake block with
``Sin`` and the norm on one thread, seven passes over audio-rate tensors: about a quarter of the decoder's
CPU time. The C kernel does it in one multi-threaded pass (~8× faster on a [1, 128, 48 000] tensor, 2
threads; the decoder ~1.2× on real speech), within 3e-6 of the exact function where ONNX Runtime's own
ops are within 2e-5. It is compiled here, once per machine, with the system's C compiler (``$CC`` or
``cc``) for the CPU it runs on (``-march=native``, or portable code where the compiler lacks that flag)
into the cache; without a compiler the stock graph runs, as it does when ``KOKORO_TRT_SNAKE_KERNEL=0``.
Rows are independent, so the output does not depend on the thread count.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from ..storage import cache_dir, cache_lock, remove_stale_temporaries, temporary_dir

if TYPE_CHECKING:
    import onnx

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("snake_kernel.c")
DOMAIN = "kokoro_trt"
OP_TYPE = "AdaSnake"
JOIN_OP = "SpectralJoin"
"""The block convolutions' last copy and bias (:mod:`.spectral_conv`), in the same library."""
ENV_SWITCH = "KOKORO_TRT_SNAKE_KERNEL"
FLAGS = ("-O3", "-shared", "-fPIC", "-std=c11")
NATIVE = "-march=native"
"""Tried first (this CPU's vector width); a compiler that lacks it builds the portable kernel instead."""


def add_domain(model: onnx.ModelProto) -> None:
    """Declare this library's op domain in ``model`` (once), as a graph using its ops must."""
    from onnx import helper

    if all(opset.domain != DOMAIN for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid(DOMAIN, 1))


def _cpu_flags() -> str:
    """The CPU's feature flags (what ``-march=native`` compiles for); empty where /proc is absent."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return ""


def _compiler() -> str | None:
    name = os.environ.get("CC") or "cc"
    return shutil.which(name)


def _library_key(compiler: str) -> str:
    version = subprocess.run([compiler, "--version"], check=True, capture_output=True, text=True, timeout=30).stdout
    digest = hashlib.sha256(SOURCE.read_bytes())
    for part in (version, " ".join((*FLAGS, NATIVE)), platform.machine(), _cpu_flags()):
        digest.update(part.encode())
    return digest.hexdigest()[:16]


@functools.cache
def snake_kernel_library() -> Path | None:
    """The compiled ``AdaSnake`` library for this machine (built on first call, then cached), or ``None``
    when it is switched off, there is no C compiler, or compiling fails (logged once: the stock graph runs)."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        logger.info("%s=0: the decoder runs ONNX Runtime's own Snake ops", ENV_SWITCH)
        return None
    compiler = _compiler()
    if compiler is None:
        logger.warning(
            "no C compiler (cc, or $CC): the CPU runs the stock decoder (Snake blocks on ONNX Runtime's own ops), "
            "~1.3x slower. Install one (e.g. `apt install gcc`) for the fused kernel."
        )
        return None
    try:
        return _build(compiler)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("could not compile the fused Snake kernel (%s): the decoder runs ONNX Runtime's own ops", exc)
        return None


def _build(compiler: str) -> Path:
    target = cache_dir() / "kernels" / f"snake-{_library_key(compiler)}.so"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with cache_lock(target):
        if target.is_file():  # another process built it while we waited
            return target
        remove_stale_temporaries(target.parent, [target.name])
        staging = temporary_dir(target)
        try:
            built = staging / target.name
            for flags in ((*FLAGS, NATIVE), FLAGS):
                command = [compiler, *flags, "-o", str(built), str(SOURCE), "-lm"]
                result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
                if result.returncode == 0:
                    break
            else:
                raise subprocess.SubprocessError(result.stderr.strip()[-500:] or f"exit status {result.returncode}")
            os.chmod(built, 0o755)
            os.replace(built, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    logger.info("compiled the fused Snake kernel: %s", target)
    return target
