"""Helpers of ``benchmarks/bench_peers.py``: one worker process per contender (``worker.py``)."""
