"""Decoder windows (issue 17): peak memory and DNSMOS with ``decode_window_seconds``, against whole chunks.

Run from the repo root: ``HF_HUB_OFFLINE=1 pytest benchmarks/bench_windows.py -s`` (~3 min on 2 cores).

Each setting runs in a fresh process (peak RSS is a process's own): load the real graphs, read VmRSS,
synthesize ``bench_runtime.SCRIPT`` (~42 s, af_heart, seeds 0-2), read VmHWM. Reported: peak above
load for each window, its ratio to whole chunks' in the same run, and DNSMOS P.808 per seed. Nothing
asserts a target; ``results/windows.json`` and docs/performance.md hold the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.bench_peers import loadavg

WINDOWS = (None, 12, 6)
SEEDS = (0, 1, 2)
_results: dict = {}

_WORKER = """
import json, sys
import numpy as np
from benchmarks.bench_runtime import SCRIPT, VOICE
from kokoro_trt import load_kokoro

graphs, voices, window, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
def status(field):
    return next(int(l.split()[1]) // 1024 for l in open("/proc/self/status") if l.startswith(field))
model = load_kokoro("cpu", graphs=graphs, voices_dir=voices, decode_window_seconds=window)
loaded = status("VmRSS:")
np.save(out, np.stack([model.synthesize(SCRIPT, VOICE, seed=seed) for seed in json.loads(sys.argv[5])]))
print(json.dumps({"rss_after_load_mb": loaded, "peak_mb": status("VmHWM:")}))
"""


def _run(graphs, voices_dir, window, out) -> dict:
    args = [sys.executable, "-c", _WORKER, str(graphs.directory), str(voices_dir), json.dumps(window), str(out)]
    done = subprocess.run([*args, json.dumps(SEEDS)], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_windows(benchmark, real_graphs, voices_dir, tmp_path):
    pytest.importorskip("speechmos", reason="needs the dev extra: pip install -e '.[dev]'")
    from tests.audio_metrics import dnsmos

    def measure() -> dict:
        figures = {}
        for window in WINDOWS:
            out = tmp_path / f"{window}.npy"
            memory = _run(real_graphs, voices_dir, window, out)
            figures[str(window)] = memory | {
                "peak_above_load_mb": memory["peak_mb"] - memory["rss_after_load_mb"],
                "p808": [round(dnsmos(a)["p808"], 3) for a in np.load(out)],
            }
        return figures

    _results["loadavg_start"] = loadavg()
    figures = benchmark.pedantic(measure, rounds=1, iterations=1)
    whole = figures["None"]["peak_above_load_mb"]
    for row in figures.values():
        row["peak_above_load_vs_whole"] = round(row["peak_above_load_mb"] / whole, 3)
    _results.update(windows=figures, loadavg_end=loadavg())
    benchmark.extra_info.update(_results)
    print(json.dumps(_results, indent=1))
