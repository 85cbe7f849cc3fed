"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_RTF_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class Metrics:
    """Requests, latency, time to first audio, real-time factor, queue depth, cache use and truncations."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("kokoro_requests", "HTTP requests", ["path", "status"], registry=r)
        self.latency = Histogram(
            "kokoro_request_seconds",
            "Time to the response headers",
            ["path"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.first_audio = Histogram(
            "kokoro_first_audio_seconds",
            "Time to the first synthesised chunk",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.rtf = Histogram(
            "kokoro_real_time_factor", "Synthesis seconds per audio second", buckets=_RTF_BUCKETS, registry=r
        )
        self.audio_seconds = Counter("kokoro_audio_seconds", "Audio synthesised, in seconds", registry=r)
        self.queue_depth = Gauge("kokoro_queue_depth", "Synthesis requests admitted (running + waiting)", registry=r)
        self.rejected = Counter("kokoro_rejected", "Requests refused because the queue was full", registry=r)
        self.cache_hits = Counter("kokoro_cache_hits", "Requests answered from the audio cache", registry=r)
        self.truncated = Counter(
            "kokoro_truncated", "Syntheses cut at a sentence by the max_audio_seconds cap", registry=r
        )

    def observe_synthesis(self, compute_seconds: float, audio_seconds: float) -> None:
        self.audio_seconds.inc(audio_seconds)
        if audio_seconds > 0:
            self.rtf.observe(compute_seconds / audio_seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
