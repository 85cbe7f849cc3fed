"""A replica's Prometheus metrics, copied into Ray's metrics system, which tags them with the deployment,
replica and application and exports every replica's on each node's metrics port (``docs/ray.md``).

Needs the ``ray`` extra; imported only by :mod:`kokoro_trt.server.ray_serve`."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry
from ray.serve.metrics import Gauge

MIRROR_INTERVAL_S = 5.0
"""How often a replica copies its metrics (Ray's own export runs on a similar period)."""


class RayMirror:
    """Copies each sample of ``registry`` into a Ray gauge of the same name and labels (a counter's
    ``_total``, a histogram's ``_bucket``/``_sum``/``_count``); Ray prefixes the names with ``ray_``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._gauges: dict[str, Gauge] = {}

    def copy(self) -> None:
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name.endswith("_created"):  # creation timestamps: no use once copied
                    continue
                gauge = self._gauges.get(sample.name)
                if gauge is None:
                    gauge = Gauge(sample.name, family.documentation, tuple(sample.labels))
                    self._gauges[sample.name] = gauge
                gauge.set(sample.value, dict(sample.labels))

    async def run(self, interval_s: float = MIRROR_INTERVAL_S) -> None:
        """Copy every ``interval_s`` seconds, until cancelled."""
        while True:
            self.copy()
            await asyncio.sleep(interval_s)
