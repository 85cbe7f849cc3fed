"""spaCy's tagger on ONNX Runtime's matrix products (``text/tagger_ops.py``)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import spacy
from thinc.api import NumpyOps

from kokoro_trt.text.g2p import TAGGER_MODELS, load_nlp
from kokoro_trt.text.tagger_ops import MlasOps, gemm_model, thinc_models

HAS_TAGGER = any(spacy.util.is_package(name) for name in TAGGER_MODELS)
TEXTS = [
    "I read the book yesterday, and I will read it again tomorrow.",
    "They lead the way; the pipes are made of lead.",
    "We live here, but the band plays a live show on Tuesday.",
    "Please close the door: the station is close to the house.",
    "A wind from the north made him wind the clock at 3:30pm.",
    '"Can\'t," she said, "we\'ll record a new record."',
]


def test_each_gemm_model_is_valid_onnx() -> None:
    onnx = pytest.importorskip("onnx")
    for trans_a, trans_b in itertools.product((False, True), repeat=2):
        model = onnx.load_from_string(gemm_model(trans_a, trans_b))
        onnx.checker.check_model(model, full_check=True)
        (node,) = model.graph.node
        assert node.op_type == "Gemm"
        assert {a.name: a.i for a in node.attribute} == {"transA": trans_a, "transB": trans_b}


def test_products_are_numpys_for_every_transpose_and_fill_out() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((137, 288), dtype=np.float32), rng.standard_normal((288, 96), dtype=np.float32)
    expected = x @ y
    ops = MlasOps()
    for trans1, trans2 in itertools.product((False, True), repeat=2):
        a = np.ascontiguousarray(x.T) if trans1 else x
        b = np.ascontiguousarray(y.T) if trans2 else y
        np.testing.assert_allclose(ops.gemm(a, b, trans1=trans1, trans2=trans2), expected, rtol=1e-4, atol=1e-4)
    out = np.empty_like(expected)
    assert ops.gemm(x, y, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ops.gemm(x[:, ::2], y[::2]), x[:, ::2] @ y[::2], rtol=1e-4, atol=1e-4)  # strided


@pytest.mark.skipif(not HAS_TAGGER, reason="no spaCy tagger model installed")
def test_the_tagger_runs_on_mlas_with_blis_tags() -> None:
    nlp = load_nlp()
    models = thinc_models(nlp)
    assert models and all(isinstance(node.ops, MlasOps) for node in models)
    ours = [[t.tag_ for t in nlp(text)] for text in TEXTS]
    blis = NumpyOps()
    try:
        for node in models:
            node.ops = blis
        assert [[t.tag_ for t in nlp(text)] for text in TEXTS] == ours
    finally:
        for node in models:
            node.ops = MlasOps()


@pytest.mark.skipif(not HAS_TAGGER, reason="no spaCy tagger model installed")
def test_tagging_leaves_no_thread_spinning() -> None:
    """The duration pass runs right after the G2P: a BLAS pool spinning on (NumPy's OpenBLAS: ~0.1 s of a
    core after each product) would take its cores."""
    nlp = load_nlp()
    text = " ".join(TEXTS * 4)

    def idle_cpu() -> float:
        start = time.process_time()
        time.sleep(0.3)
        return time.process_time() - start

    before = idle_cpu()  # whatever else this test process runs meanwhile
    nlp(text)
    spent = idle_cpu() - before
    assert spent < 0.01, f"{spent * 1000:.0f} ms more CPU in 0.3 s idle after tagging"
