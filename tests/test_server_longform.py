"""Long-form over HTTP: a five-minute text streams through the real server, uncut, in flat memory."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import httpx

from kokoro_trt.server import Settings, create_app
from tests.server_fixtures import live_server

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank, and then it rests. "
PAGE = Path("/proc/self/statm")


def rss_bytes() -> int:
    return int(PAGE.read_text().split()[1]) * 4096


class RssSampler(threading.Thread):
    """Samples this process's RSS (the server runs in it) with the bytes received so far."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.received = 0
        self.samples: list[tuple[int, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.samples.append((self.received, rss_bytes()))


def test_five_minutes_stream_uncut_in_flat_memory(server_model):
    one = server_model.speak(SENTENCE, "af_heart", max_seconds=None)
    repeats = round(300 / one.seconds)  # ~5 minutes of audio
    text = SENTENCE * repeats
    with live_server(create_app(server_model, Settings(api_key=None))) as url:  # default settings
        body = {"input": text, "voice": "af_heart", "response_format": "pcm", "stream": True}
        sampler = RssSampler()
        start = time.perf_counter()
        with httpx.stream("POST", f"{url}/v1/audio/speech", json=body, timeout=600) as response:
            assert response.status_code == 200
            sampler.start()
            for data in response.iter_bytes():
                sampler.received += len(data)
        sampler.stop.set()
        sampler.join()
        elapsed = time.perf_counter() - start
    seconds = sampler.received / 2 / 24000
    expected = repeats * one.seconds
    assert abs(seconds - expected) <= 0.05 * expected, (seconds, expected)  # nothing cut: no cap by default
    # The first chunks grow the inference arenas and allocator pools once (a few MiB, up to ~30% in);
    # a leak grows with the audio: keeping it all would add 2 bytes (int16) or 4 (float32) per sample.
    # Medians of two stretches of samples, so one momentary peak is not taken for growth.
    start = [(received, rss) for received, rss in sampler.samples if 0.4 <= received / sampler.received < 0.5]
    end = [(received, rss) for received, rss in sampler.samples if received / sampler.received >= 0.8]
    growth = statistics.median(rss for _, rss in end) - statistics.median(rss for _, rss in start)
    span = statistics.median(r for r, _ in end) - statistics.median(r for r, _ in start)
    limit = 0.25 * 2 * span  # a quarter of the audio in between, as float32
    print(f"{seconds:.1f} s of audio in {elapsed:.1f} s; RSS growth from 45% to 90%: {growth / 2**20:.1f} MiB")
    assert growth < limit, f"RSS grew {growth / 2**20:.1f} MiB while streaming"
