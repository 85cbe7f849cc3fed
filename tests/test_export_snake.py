"""The folded Snake blocks compute upstream's ``AdaINResBlock1`` with fewer elementwise passes."""

from __future__ import annotations

from collections import Counter

import onnx
import pytest
import torch

from kokoro_trt.export.kmodel import fold_weight_norm
from kokoro_trt.export.snake import FoldedSnakeBlock, fold_snakes

istftnet = pytest.importorskip("kokoro.istftnet")


def _random_block(seed: int = 0) -> istftnet.AdaINResBlock1:
    """A block with non-trivial α, norm affine and style projection (upstream initialises α to ones)."""
    torch.manual_seed(seed)
    block = istftnet.AdaINResBlock1(16, 3, (1, 3, 5), style_dim=8)
    with torch.no_grad():
        for alpha in [*block.alpha1, *block.alpha2]:
            alpha.uniform_(0.2, 3.0)
        for adain in [*block.adain1, *block.adain2]:
            adain.norm.weight.uniform_(0.5, 1.5)
            adain.norm.bias.uniform_(-0.3, 0.3)
    return fold_weight_norm(block).eval()


def test_folded_block_matches_upstream():
    block = _random_block()
    x = torch.randn(1, 16, 500)
    s = torch.randn(1, 8)
    with torch.no_grad():
        expected = block(x, s)
        actual = FoldedSnakeBlock(block)(x, s)
    assert ((actual - expected).abs().max() / expected.abs().max()) < 1e-5


def test_fold_snakes_wraps_only_snake_blocks():
    other = torch.nn.Identity()
    folded = fold_snakes(torch.nn.ModuleList([_random_block(), other]))
    assert isinstance(folded[0], FoldedSnakeBlock) and folded[1] is other


def test_exported_snakes_take_four_passes(tiny_graphs):
    """InstanceNormalization → Sin → Mul → Add per Snake, no Pow or Reciprocal, and every convolution
    reads a stored weight (the divisions by α were folded at export)."""
    graph = onnx.load(str(tiny_graphs.path("decoder"))).graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers = Counter(name for node in graph.node for name in node.input)
    ops = Counter(node.op_type for node in graph.node)
    snakes = [n for n in graph.node if n.op_type == "Sin" and producer[n.input[0]].op_type == "InstanceNormalization"]
    assert ops["Pow"] == 0 and ops["Reciprocal"] == 0
    assert len(snakes) == 4 * 6  # the tiny model: 2 resblocks and 2 noise blocks, six Snakes each
    assert all(consumers[sin.output[0]] == 2 for sin in snakes)  # sin · sin, one Mul
    stored = {init.name for init in graph.initializer} | {
        producer[n].output[0] for n in producer if producer[n].op_type == "Constant"
    }
    assert all(node.input[1] in stored for node in graph.node if node.op_type == "Conv")
