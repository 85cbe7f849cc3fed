"""The generator's Snake residual blocks with their per-channel scales folded: fewer passes over audio.

Upstream's ``AdaINResBlock1`` runs, twice per dilation, ``AdaIN`` (instance norm, then ``(1 + γ)·n + β``
from the style), Snake (``xt + sin(α·xt)² / α``) and a convolution: eight elementwise passes over
[1, C, L] tensors at the audio rate, about a fifth of the decoder's time on a CPU. With ``u = α·xt``,
Snake is ``(u + sin(u)²) / α``; the ``1 / α`` moves into the convolution's input channels and ``α·(1 + γ)``
and ``α·β`` into the instance norm's own scale and bias ([C] vectors), leaving four passes:
InstanceNormalization → Sin → Mul → Add. The same function up to float rounding (~1e-7 relative);
the weight divisions are constant-folded at export, so the graph holds one weight per convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kokoro.istftnet import AdaIN1d, AdaINResBlock1
from torch import nn


def snake_conv(x: torch.Tensor, s: torch.Tensor, adain: AdaIN1d, alpha: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """``conv(Snake_α(adain(x, s)))`` for a batch of one, computed as ``conv/α (u + sin(u)²)``, ``u = α·adain``."""
    alpha = alpha.reshape(-1)
    gamma, beta = adain.fc(s)[0].chunk(2)
    scale = 1 + gamma
    u = F.instance_norm(
        x,
        weight=(adain.norm.weight * alpha) * scale,
        bias=(adain.norm.bias * alpha) * scale + beta * alpha,
        eps=adain.norm.eps,
    )
    sin = torch.sin(u)
    weight = conv.weight / alpha[:, None]
    return F.conv1d(u + sin * sin, weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)


class FoldedSnakeBlock(nn.Module):
    """``AdaINResBlock1`` (its own weights, shared) whose forward folds the scales as described above."""

    def __init__(self, block: AdaINResBlock1) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        b = self.block
        for c1, c2, n1, n2, a1, a2 in zip(b.convs1, b.convs2, b.adain1, b.adain2, b.alpha1, b.alpha2):
            xt = snake_conv(x, s, n1, a1, c1)
            x = snake_conv(xt, s, n2, a2, c2) + x
        return x


def fold_snakes(blocks: nn.ModuleList) -> nn.ModuleList:
    """A new list with every ``AdaINResBlock1`` of ``blocks`` wrapped in :class:`FoldedSnakeBlock`."""
    return nn.ModuleList(FoldedSnakeBlock(b) if isinstance(b, AdaINResBlock1) else b for b in blocks)
