"""Streaming as a listener hears it (issue 17): first audio, playback waits and the whole stream's WER and
DNSMOS, over five kinds of text, against ``speak`` of the same text and seed in the same run.

Run from the repo root: ``HF_HUB_OFFLINE=1 pytest benchmarks/bench_stream.py -s`` (~7 min on 2 cores;
needs the dev extra for Whisper and DNSMOS).

One warm CPU model (the real graphs). Each passage is streamed ``ROUNDS`` times with the default head
(the first stream of each seed is the one scored): the time to its first chunk, and what a listener who
starts playing that chunk at once waits for the chunks after it. The stream's audio, joined, and
``speak``'s are transcribed with the offline Whisper-base and scored with DNSMOS. A second test times the
first chunk of the script repeated up to 20 times (2,240 words) with no ``max_seconds``, as a ratio to
the script alone. Nothing asserts a target: ``results/stream.json`` and docs/performance.md hold the
figures.
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np
import pytest

from benchmarks.bench_peers import loadavg
from benchmarks.bench_runtime import SCRIPT, VOICE
from tests.test_real_model import PASSAGE

PASSAGES = {
    "script": SCRIPT,
    "lighthouse": PASSAGE,
    "news": (
        "Officials said on Tuesday that the new bridge will open next spring. Construction crews have worked "
        "through the winter, and traffic is expected to ease once the old crossing closes for repairs."
    ),
    "story": (
        "Maria opened the letter slowly. Inside was a photograph of a house she had not seen in twenty years, "
        "and a single line of handwriting: come home."
    ),
    "help": (
        "To reset your password, open the settings page, choose security, and follow the instructions on the "
        "screen. If you need more help, call our support team any time."
    ),
}
SEEDS = (0, 1)
ROUNDS = 3
_results: dict = {}


def _listen(chunks) -> tuple[np.ndarray, float, float]:
    """The stream's audio, the seconds to its first chunk, and the seconds a listener who starts playing
    the first chunk at once waits for the ones after it."""
    start = time.perf_counter()
    pieces, first, plays_until, waits = [], 0.0, 0.0, 0.0
    for chunk in chunks:
        now = time.perf_counter()
        if not pieces:
            first = plays_until = now
        waits += max(0.0, now - plays_until)
        plays_until = max(plays_until, now) + len(chunk.audio) / 24_000
        pieces.append(chunk.audio)
    return np.concatenate(pieces), first - start, waits


def _score(asr, text: str, audio: np.ndarray) -> dict:
    from tests.audio_metrics import dnsmos

    scores = dnsmos(audio)
    return {"wer": asr.word_error_rate(text, asr.transcribe(audio)), "p808": scores["p808"], "ovrl": scores["ovrl"]}


def test_stream(benchmark, real_model, asr):
    pytest.importorskip("speechmos", reason="needs the dev extra: pip install -e '.[dev]'")
    real_model.synthesize(PASSAGES["news"], VOICE)  # session first-run allocations
    _results["loadavg_start"] = loadavg()

    def measure() -> dict:
        rows = {}
        for name, text in PASSAGES.items():
            firsts, waits, scored = [], [], {"stream": [], "speak": []}
            for seed in SEEDS:
                for k in range(ROUNDS):
                    audio, first, wait = _listen(real_model.stream(text, VOICE, seed=seed))
                    firsts.append(first)
                    waits.append(wait)
                    if k == 0:
                        scored["stream"].append(_score(asr, text, audio))
                scored["speak"].append(_score(asr, text, real_model.synthesize(text, VOICE, seed=seed)))
            rows[name] = {
                "first_audio_s": {"median": round(statistics.median(firsts), 3), "max": round(max(firsts), 3)},
                "waits_s": {"median": round(statistics.median(waits), 3), "max": round(max(waits), 3)},
            } | {
                f"{mode}_{metric}": round(statistics.fmean(s[metric] for s in runs), 4)
                for mode, runs in scored.items()
                for metric in ("wer", "p808", "ovrl")
            }
        return rows

    rows = benchmark.pedantic(measure, rounds=1, iterations=1)
    mean = {
        key: round(statistics.fmean(row[key] for row in rows.values()), 4)
        for key in next(iter(rows.values()))
        if key.startswith(("stream_", "speak_"))
    }
    _results.update(
        passages=rows,
        mean=mean,
        first_audio_median_s=round(statistics.median(r["first_audio_s"]["median"] for r in rows.values()), 3),
        loadavg_end=loadavg(),
    )
    benchmark.extra_info.update(_results)
    print(json.dumps(_results, indent=1))


LENGTHS = (1, 5, 20)
"""The benchmark script repeated this many times (112 words each) and streamed with ``max_seconds=None``
(the server's default), to see whether the first audio waits for the whole text's front-end."""


def test_first_audio_against_text_length(benchmark, real_model):
    real_model.synthesize(PASSAGES["news"], VOICE)

    def first_audio(text: str) -> float:
        chunks = real_model.stream(text, VOICE, max_seconds=None)
        start = time.perf_counter()
        next(chunks)
        seconds = time.perf_counter() - start
        chunks.close()
        return seconds

    def measure() -> dict:
        texts = {n: " ".join([SCRIPT] * n) for n in LENGTHS}
        firsts: dict[int, list[float]] = {n: [] for n in LENGTHS}
        for _ in range(ROUNDS):  # interleaved
            for n, text in texts.items():
                firsts[n].append(first_audio(text))
        base = statistics.median(firsts[LENGTHS[0]])
        return {
            f"{len(texts[n].split())}_words": {
                "first_audio_median_s": round(statistics.median(f), 3),
                "vs_one_script": round(statistics.median(f) / base, 3),
            }
            for n, f in firsts.items()
        }

    _results["first_audio_by_length"] = benchmark.pedantic(measure, rounds=1, iterations=1)
    print(json.dumps(_results["first_audio_by_length"], indent=1))
