"""Freed heap memory goes back to the system after loading (glibc)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kokoro_trt.runtime.heap import _malloc_trim

pytestmark = pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim")


def test_freed_heap_pages_leave_the_resident_set() -> None:
    code = textwrap.dedent(
        """
        from kokoro_trt.runtime.heap import return_freed_memory

        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * 4096

        blocks = [bytes(2048) for _ in range(100_000)]  # ~200 MB from malloc's heap, not mmap
        keep = bytes(2048)  # allocated last: the heap cannot simply shrink from its top
        del blocks
        before = rss()
        assert return_freed_memory()
        print(before - rss())
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 100 * 2**20
