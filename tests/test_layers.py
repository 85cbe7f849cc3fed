"""The package's import structure: no circle between files or between folders.

Every ``import`` counts, also those inside functions (the lazy ones that keep ``import kokoro_trt``
light): a lazy import that runs back up is still a circle in the design.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "kokoro_trt"


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The ``kokoro_trt`` modules ``path`` imports (a name imported from a package counts as the package,
    or as its submodule when one of that name exists)."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names}
    return {name for name in found if name.startswith("kokoro_trt")} - {module}


MODULES = {_module_of(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {module: _imports(path) for module, path in MODULES.items()}


def _folder(module: str) -> str:
    """The top-level part of the package a module belongs to (``kokoro_trt.text.rules`` → ``text``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "kokoro_trt"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        return list(error.args[1])
    return None


def test_the_walk_sees_the_imports():
    """Guards the test itself: known edges are found, so an empty graph cannot pass it."""
    assert "kokoro_trt.options" in GRAPH["kokoro_trt.runtime.model"]
    assert "kokoro_trt.errors" in GRAPH["kokoro_trt.options"]
    assert any(name.startswith("kokoro_trt.runtime") for name in GRAPH["kokoro_trt.cli"])


def test_no_circle_between_files():
    """A package's ``__init__`` only hands names on, so its own arrows are left out."""
    files = {m: set() if MODULES[m].name == "__init__.py" else deps for m, deps in GRAPH.items()}
    cycle = _cycle(files)
    assert cycle is None, f"files import each other in a circle: {' -> '.join(cycle)}"


def test_no_circle_between_folders():
    """``text``, ``voices``, ``assets``, ``export``, ``engines``, ``runtime``, ``server``... form layers."""
    folders: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        if module == "kokoro_trt":
            continue  # the top-level face lazily re-exports from everywhere
        folders.setdefault(_folder(module), set()).update(_folder(d) for d in deps if _folder(d) != _folder(module))
    folders = {name: deps - {"kokoro_trt"} for name, deps in folders.items()}
    cycle = _cycle(folders)
    assert cycle is None, f"folders import each other in a circle: {' -> '.join(cycle)}"


@pytest.mark.parametrize(
    ("lower", "upper"),
    [("cudart", "engines"), ("cudart", "runtime"), ("engines", "runtime"), ("runtime", "server"), ("text", "runtime")],
)
def test_lower_layers_never_import_upper_ones(lower, upper):
    offenders = [m for m, deps in GRAPH.items() if _folder(m) == lower and any(_folder(d) == upper for d in deps)]
    assert not offenders, f"{lower} imports {upper}: {offenders}"


def test_the_token_limit_has_one_source():
    from kokoro_trt.config import CONTEXT_TOKENS, MAX_PHONEMES, ModelConfig
    from kokoro_trt.engines import MAX_TOKENS as ENGINE_TOKENS
    from kokoro_trt.text.frontend import MAX_TOKENS as CHUNK_PHONEMES

    config = ModelConfig.default()
    assert config.context_length == CONTEXT_TOKENS == ENGINE_TOKENS
    assert config.max_phonemes == MAX_PHONEMES == CHUNK_PHONEMES
