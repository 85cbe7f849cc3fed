"""The peers benchmark (``benchmarks/bench_peers.py``): its round order, a balanced Latin square, and its
notes on how busy and how fast the machine was."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from benchmarks import bench_peers
from benchmarks.bench_peers import _in_turn


@pytest.mark.parametrize("count", [2, 3, 4, 5, 6])
def test_each_contender_runs_right_after_each_other_one_equally_often(count) -> None:
    peers = {f"c{i}": object() for i in range(count)}
    rounds = count if count % 2 == 0 else 2 * count
    after: Counter[tuple[str, str]] = Counter()
    for round_index in range(rounds):
        names = [name for name, _ in _in_turn(peers, round_index)]
        assert sorted(names) == sorted(peers)
        after.update(pairwise(names))
    assert len(after) == count * (count - 1)  # every ordered pair of neighbours
    assert len(set(after.values())) == 1  # each as often


def test_a_checkpoint_notes_the_hosts_pace_except_right_before_a_first_audio(monkeypatch) -> None:
    """The load average misses a shared host's slow hours (a matrix product took 11 ms, then 21 ms); the pace
    is measured at each checkpoint, but not where a first audio is timed next, as what runs right before one
    slows it."""
    monkeypatch.setattr(bench_peers, "_results", {"loadavg": {}, "host_pace_ms": {}})
    bench_peers.checkpoint("before_rounds")
    bench_peers.checkpoint("after_rounds", pace=False)
    results = bench_peers._results
    assert set(results["loadavg"]) == {"before_rounds", "after_rounds"}
    assert all(len(x) == 3 for x in results["loadavg"].values())
    assert list(results["host_pace_ms"]) == ["before_rounds"]
    assert 0.1 < results["host_pace_ms"]["before_rounds"] < 10_000  # ms for 2 GFLOP: a real measurement
