"""The English G2P loads without importing torch, spaCy's command line or the ``segments`` package, and
keeps them from nothing but its own imports."""

from __future__ import annotations

import importlib.util

import pytest

from tests.fresh_python import run_python

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="only matters where torch is installed (the export extra)"
)


@needs_torch
def test_english_g2p_loads_without_torch_or_spacy_plugins() -> None:
    out = run_python(
        """
        import sys
        from kokoro_trt.config import ModelConfig
        from kokoro_trt.text import TextFrontend
        frontend = TextFrontend(ModelConfig.default().vocab).load()
        print(frontend.phonemize("I read the book yesterday."))
        print(sorted({m.partition(".")[0] for m in sys.modules} & {"torch", "spacy_curated_transformers"}))
        import torch  # still importable afterwards
        print(torch.tensor([1.0]).sum().item())
        """
    )
    phonemes, imported, total = out.splitlines()
    assert "ɹˈɛd" in phonemes  # the tagger still runs (past tense)
    assert imported == "[]"
    assert total == "1.0"


@needs_torch
def test_torch_is_hidden_in_the_loading_thread_only() -> None:
    out = run_python(
        """
        import threading
        from kokoro_trt.text.lean_imports import torch_hidden
        seen = {}
        def other():
            import torch
            seen["other"] = torch.__name__
        with torch_hidden():
            try:
                import torch
            except ModuleNotFoundError as e:
                seen["here"] = e.name
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
        print(seen["here"], seen["other"])
        """
    )
    assert out == "torch torch"


@needs_torch
def test_an_imported_torch_is_left_alone() -> None:
    out = run_python(
        """
        import sys
        import torch
        from kokoro_trt.text.lean_imports import torch_hidden
        assert "torch.utils.benchmark" not in sys.modules
        with torch_hidden():
            import torch.utils.benchmark  # a submodule imported for the first time here
        print(torch.utils.benchmark.__name__)
        """
    )
    assert out == "torch.utils.benchmark"


UNUSED = ("spacy.cli", "httpx", "typer", "weasel", "segments", "csvw")
"""What spaCy's command line and phonemizer's segments backend import, and the English G2P never runs."""


def test_the_g2p_loads_without_the_modules_it_never_runs_which_still_work_afterwards() -> None:
    out = run_python(
        f"""
        import sys
        from kokoro_trt.config import ModelConfig
        from kokoro_trt.text import TextFrontend
        frontend = TextFrontend(ModelConfig.default().vocab).load()
        print(frontend.phonemize("I read the book yesterday."))
        print(sorted(m for m in {UNUSED!r} if m in sys.modules))
        import spacy, spacy.cli, phonemizer.backend, segments
        print(spacy.info(silent=True)["spacy_version"] == spacy.__version__, spacy.cli.download.__module__)
        print(phonemizer.backend.BACKENDS["segments"].version() > (0,), segments.Tokenizer.__module__)
        """
    )
    phonemes, imported, spacy_cli, segments = out.splitlines()
    assert "ɹˈɛd" in phonemes
    assert imported == "[]"
    assert spacy_cli == "True spacy.cli.download"
    assert segments == "True segments.tokenizer"


def test_other_threads_import_the_real_modules_while_the_g2p_loads() -> None:
    out = run_python(
        """
        import threading
        from kokoro_trt.text.lean_imports import lean_imports
        seen = {}
        def other():
            import segments
            seen["other"] = segments.Tokenizer.__module__
        with lean_imports():
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
        print(seen["other"])
        """
    )
    assert out == "segments.tokenizer"
