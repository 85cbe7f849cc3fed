"""The peers benchmark's round order (``benchmarks/bench_peers.py``): a balanced Latin square."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

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
