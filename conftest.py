"""Fixtures shared by the tests and the benchmarks, registered once for both.

``tests/fixtures.py``: test data, the tiny and the real model, the offline ASR.
``tests/server_fixtures.py``: models and a live server for the HTTP tests.
"""

pytest_plugins = ["tests.fixtures", "tests.server_fixtures"]
