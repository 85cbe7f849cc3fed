"""Issue 13: ONNX Runtime CPU hands a long request's memory back instead of keeping its peak."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS is read from /proc")

SHORT = "A short reply."
LONG = " ".join(["The quick brown fox jumps over the lazy dog near the old mill."] * 12)


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_a_long_request_does_not_raise_resident_memory_for_good(tiny_model) -> None:
    tiny_model.synthesize(SHORT, "af_heart")
    before = rss_mib()
    seconds = len(tiny_model.synthesize(LONG, "af_heart")) / tiny_model.sample_rate
    tiny_model.synthesize(SHORT, "af_heart")
    grown = rss_mib() - before
    assert seconds > 20  # long enough that keeping its working memory would show
    assert grown < 64, f"RSS grew {grown:.0f} MiB after one {seconds:.0f} s request"
