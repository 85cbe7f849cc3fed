"""Keep torch out of the English G2P's imports: spaCy's thinc imports it whenever it is installed.

That costs 2-3 s and ~200 MB at load (torch comes with the ``export`` extra), and nothing the G2P
runs uses it: a blank spaCy pipeline or en_core_web_sm's tagger, both on thinc's NumPy ops.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType


class _HideTorch(importlib.abc.MetaPathFinder):
    """Fails ``import torch`` in one thread as if torch were not installed."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] == "torch" and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"No module named {fullname!r} (hidden while the G2P loads)", name=fullname)
        return None


@contextmanager
def torch_hidden() -> Iterator[None]:
    """Within the block, ``import torch`` fails in this thread unless torch is imported already.

    Other threads import it as usual. thinc, imported here first, then records that torch is missing
    for the rest of the process, so thinc's PyTorch wrappers are off; nothing in kokoro-trt uses them,
    and a program that does imports torch before loading the G2P.
    """
    if "torch" in sys.modules:
        yield
        return
    finder = _HideTorch()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
