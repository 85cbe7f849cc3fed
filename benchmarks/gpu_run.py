"""The first run on a GPU machine, in one command (under 10 minutes):

    pip install -e ".[export,server,dev,gpu]"   # and/or ".[rtx]" for TensorRT for RTX
    python benchmarks/gpu_run.py --out gpu-report

It prints the environment, smoke-tests the CUDA layer, builds tiny then real engines with every
TensorRT flavour that runs on this GPU, runs ``pytest -m gpu``, times 45 s of audio per stage with
CUDA events, and writes ``report.json`` and ``report.md`` into ``--out`` (default: ``$OUT`` or
``benchmarks/results/gpu``). Each step records its failure and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the checkout's tests and benchmarks packages

PACKAGES = (
    "kokoro-trt",
    "torch",
    "onnxruntime",
    "onnxruntime-gpu",
    "tensorrt",
    "tensorrt-rtx-cu13-bindings",
    "onnxruntime-ep-nv-tensorrt-rtx-cu13",
    "cuda-python",
    "nvidia-ml-py",
)


class Report:
    """Steps in order, each with its figures or its error; printed as they finish."""

    def __init__(self) -> None:
        self.steps: dict[str, Any] = {}

    def step(self, name: str, run: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            result = run()
            summary = getattr(result, "directory", result)  # a graph or engine set: where it is
            self.steps[name] = {
                "ok": True,
                "seconds": round(time.perf_counter() - started, 1),
                "result": summary,
            }
        except Exception as exc:  # noqa: BLE001 -- a report of what failed is the point of this script
            self.steps[name] = {
                "ok": False,
                "seconds": round(time.perf_counter() - started, 1),
                "error": repr(exc),
                "traceback": traceback.format_exc(limit=6),
            }
            result = None
        print(
            f"[{'ok' if self.steps[name]['ok'] else 'FAILED'}] {name} ({self.steps[name]['seconds']} s)",
            flush=True,
        )
        print(json.dumps(self.steps[name].get("result", self.steps[name].get("error")), indent=1, default=str)[:2000])
        return result

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(self.steps, indent=2, default=str) + "\n")
        lines = ["# kokoro-trt GPU run", ""]
        for name, step in self.steps.items():
            status = "ok" if step["ok"] else "**failed**"
            lines += [
                f"## {name}: {status} ({step['seconds']} s)",
                "",
                "```",
                json.dumps(step.get("result", step.get("error")), indent=1, default=str),
                "```",
                "",
            ]
        (out / "report.md").write_text("\n".join(lines))


def environment() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    query = [
        "nvidia-smi",
        "--query-gpu=name,compute_cap,driver_version,memory.total",
        "--format=csv,noheader",
    ]
    smi = subprocess.run(query, capture_output=True, text=True, check=False) if shutil.which(query[0]) else None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "nvidia_smi": (smi.stdout.strip() or smi.stderr.strip()) if smi else "not found",
    }


def cuda_smoke() -> dict[str, Any]:
    """Device properties, a stream, an allocation and a host → device → host round trip."""
    from kokoro_trt import cudart as cuda

    name, capability = cuda.device_properties(0)
    cuda.set_device(0)
    stream = cuda.Stream()
    data = np.arange(1024, dtype=np.float32)
    back = np.zeros_like(data)
    buffer = cuda.DeviceBuffer(data.nbytes)
    try:
        cuda.copy_to_device(buffer.ptr, data, stream)
        cuda.copy_to_host(back, buffer.ptr, stream)
    finally:
        buffer.free()
        stream.close()
    if not np.array_equal(data, back):
        raise AssertionError("host → device → host round trip changed the data")
    return {"gpu": name, "compute_capability": capability, "memory_in_use_mib": cuda.memory_in_use() >> 20}


def usable_libraries() -> dict[str, str]:
    """Each TensorRT flavour: ``"ok"`` or why it cannot run on this GPU."""
    from kokoro_trt.engines import LIBRARIES, current_target, load_library
    from kokoro_trt.errors import KokoroError

    found = {}
    for name in LIBRARIES:
        try:
            found[name] = f"ok: {current_target(load_library(name)).describe()}"
        except KokoroError as exc:
            found[name] = str(exc)
    return found


def build(graphs: Any, libraries: list[str], out: Path) -> dict[str, Any]:
    from kokoro_trt.engines import build_engines

    if not libraries:
        raise RuntimeError("no TensorRT flavour runs on this GPU (see 'tensorrt libraries')")
    built = {}
    for library in libraries:
        started = time.perf_counter()
        engines = build_engines(graphs, out, library=library, progress=False)
        built[library] = {
            "seconds": round(time.perf_counter() - started, 1),
            "directory": str(engines.directory),
            "engine_mib": {s: round(m.engine_bytes / 2**20, 1) for s, m in engines.manifests.items()},
            "tf32": any(m.tf32 for m in engines.manifests.values()),
        }
    return built


def tiny_graphs(directory: Path) -> Any:
    from kokoro_trt.export.pipeline import export_model
    from tests.tiny_model import save_tiny_checkpoint, tiny_config

    save_tiny_checkpoint(directory / "tiny.pth")
    return export_model(directory / "tiny.pth", tiny_config(), out_dir=directory / "graphs", progress=False)


def run_gpu_tests(timeout: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "tests"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    tail = done.stdout.strip().splitlines()[-25:]
    if done.returncode != 0:
        raise AssertionError(f"pytest -m gpu exited {done.returncode}:\n" + "\n".join(tail))
    return {"summary": tail[-1] if tail else ""}


class CudaEventTimer:
    """Milliseconds of each backend stage, measured with CUDA events on the backend's stream."""

    def __init__(self, backend: Any) -> None:
        from kokoro_trt import cudart as cuda

        self.rt, self.check = cuda.runtime(), cuda.check
        self.stream = getattr(getattr(backend, "stream", None), "handle", 0)
        self.times: dict[str, list[float]] = {}
        for stage, method in (("duration", "durations"), ("prosody", "prosody"), ("decoder", "decode")):
            setattr(backend, method, self._timed(stage, getattr(backend, method)))

    def _timed(self, stage: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = self.check(self.rt.cudaEventCreate(), "cudaEventCreate")
            end = self.check(self.rt.cudaEventCreate(), "cudaEventCreate")
            self.check(self.rt.cudaEventRecord(start, self.stream), "cudaEventRecord")
            result = call(*args, **kwargs)
            self.check(self.rt.cudaEventRecord(end, self.stream), "cudaEventRecord")
            self.check(self.rt.cudaEventSynchronize(end), "cudaEventSynchronize")
            self.times.setdefault(stage, []).append(float(self.check(self.rt.cudaEventElapsedTime(start, end), "")))
            self.rt.cudaEventDestroy(start)
            self.rt.cudaEventDestroy(end)
            return result

        return timed


def stage_times(graphs: Any, voices_dir: Path | None, rounds: int = 5) -> dict[str, Any]:
    """45 s of audio on the preferred GPU backend: per-stage and total milliseconds (median of ``rounds``)."""
    from benchmarks.bench_runtime import SCRIPT, VOICE
    from kokoro_trt.runtime import load_kokoro

    model = load_kokoro("cuda", graphs=graphs.directory, voices_dir=voices_dir)
    model.synthesize(SCRIPT, VOICE, max_seconds=None)  # warm-up: TensorRT for RTX compiles kernels here
    timer = CudaEventTimer(model.backend)
    totals, audio_s = [], 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        audio = model.synthesize(SCRIPT, VOICE, max_seconds=None)
        totals.append(time.perf_counter() - started)
        audio_s = len(audio) / model.sample_rate
    per_call = {stage: float(np.sum(times)) / rounds for stage, times in timer.times.items()}
    return {
        "backend": model.backend_name,
        "audio_s": round(audio_s, 2),
        "stage_ms_per_call": {stage: round(ms, 2) for stage, ms in per_call.items()},
        "total_s_p50": round(float(np.median(totals)), 4),
        "rtf": round(float(np.median(totals)) / audio_s, 5),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("OUT", ROOT / "benchmarks" / "results" / "gpu"))
    )
    parser.add_argument("--voices-dir", type=Path, default=ROOT.parent / "shared" / "voices")
    parser.add_argument("--pytest-timeout", type=int, default=240)
    args = parser.parse_args()
    voices_dir = args.voices_dir if args.voices_dir.is_dir() else None
    report = Report()
    report.step("environment", environment)
    report.step("cuda smoke test", cuda_smoke)
    libraries = report.step("tensorrt libraries", usable_libraries) or {}
    usable = [name for name, state in libraries.items() if state.startswith("ok")]
    with tempfile.TemporaryDirectory() as scratch:
        os.environ.setdefault("KOKORO_TRT_CACHE", str(Path(scratch) / "cache"))
        tiny = report.step("export tiny graphs", lambda: tiny_graphs(Path(scratch)))
        if tiny is not None:
            report.step("build tiny engines", lambda: build(tiny, usable, Path(scratch) / "tiny-engines"))
        from kokoro_trt.runtime import resolve_graphs

        real = report.step("export real graphs", lambda: resolve_graphs(local_files_only=True))
        if real is not None:
            report.step("build real engines", lambda: build(real, usable, None))
        report.step("pytest -m gpu", lambda: run_gpu_tests(args.pytest_timeout))
        if real is not None:
            report.step("45 s of audio per stage (CUDA events)", lambda: stage_times(real, voices_dir))
    report.write(args.out)
    print(f"report: {args.out / 'report.md'}")
    return 0 if all(step["ok"] for step in report.steps.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
