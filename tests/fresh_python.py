"""Code run in a fresh interpreter, for tests of what a process imports or finds at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping


def run_python(code: str, *, env: Mapping[str, str] | None = None, timeout: float = 300) -> str:
    """``code`` (dedented) run by this interpreter in a new process with ``env`` added to the environment;
    its stripped standard output. Fails the test, with the process's stderr, if it exits non-zero."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout.strip()
