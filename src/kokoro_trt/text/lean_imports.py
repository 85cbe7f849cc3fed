"""The English G2P's imports without what it never runs: torch, spaCy's command line, phonemizer's
``segments`` backend.

- spaCy's thinc imports torch whenever it is installed: 2-3 s and ~200 MB at load (torch comes with the
  ``export`` extra), and nothing the G2P runs uses it: a blank spaCy pipeline or en_core_web_sm's tagger,
  both on thinc's NumPy ops.
- ``import spacy`` imports its whole command line (typer, weasel, httpx; ~0.17 s) for one name,
  ``spacy.info``; ``import phonemizer`` imports its ``segments`` backend, which imports the ``segments``
  package (csvw; ~0.2 s) for use in its methods. Those modules are imported on first use instead.

:func:`lean_imports` does both for the block it wraps.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

DEFERRED = ("spacy.cli", "spacy.cli.info", "segments")
"""Modules that :func:`lean_imports` leaves for their first use (see the module's docstring)."""


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


class _Deferred:
    """Stands for ``module.name``, importing the module when it is first called or read."""

    def __init__(self, module: str, name: str) -> None:
        self._module = module
        self._name = name

    def _target(self) -> Any:
        return getattr(importlib.import_module(self._module), self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        if attribute in ("_module", "_name"):  # not set yet (a copy being built): no target to ask
            raise AttributeError(attribute)
        return getattr(self._target(), attribute)

    def __repr__(self) -> str:
        return f"<{self._module}.{self._name}, imported when used>"


class _Placeholders(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """In one thread, imports each of ``DEFERRED`` as a placeholder module: while the block runs, its names
    are :class:`_Deferred`; once :meth:`remove` has taken it out, it forwards every read to the real module.
    Another thread importing one meanwhile gets the real module, or the placeholder if it is already in
    ``sys.modules`` (``sys.modules`` is the process's), whose names then work as they do for the G2P."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.made: list[ModuleType] = []
        self.removed = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in DEFERRED or threading.get_ident() != self.thread:
            return None
        return ModuleSpec(fullname, self, is_package=any(name.startswith(fullname + ".") for name in DEFERRED))

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        def read(name: str) -> Any:
            if self.removed:
                return getattr(importlib.import_module(module.__name__), name)
            if name.startswith("__"):  # the import system's questions (__path__, ...): not there
                raise AttributeError(name)
            return _Deferred(module.__name__, name)

        module.__getattr__ = read  # type: ignore[method-assign]
        self.made.append(module)

    def remove(self) -> None:
        """Take the placeholders out of ``sys.modules`` and their parents: a later import imports the real module."""
        self.removed = True
        for module in self.made:
            if sys.modules.get(module.__name__) is module:
                del sys.modules[module.__name__]
            parent, _, child = module.__name__.rpartition(".")
            if getattr(sys.modules.get(parent), child, None) is module:
                delattr(sys.modules[parent], child)


@contextmanager
def lean_imports() -> Iterator[None]:
    """Within the block, in this thread, torch is hidden (:func:`torch_hidden`) and ``DEFERRED`` modules not
    imported yet are imported as placeholders, taken out again when the block ends: the names the block's
    imports took from them (``spacy.info``) import the real modules when first used."""
    placeholders = _Placeholders()
    sys.meta_path.insert(0, placeholders)
    try:
        with torch_hidden():
            yield
    finally:
        sys.meta_path.remove(placeholders)
        placeholders.remove()
