"""A tiny random-weight Kokoro of the real architecture, so tests need no downloaded weights.

The decoder's widths are hard-coded upstream, so only the text side shrinks. Random weights are
tamed so outputs look like speech-shaped data: a few frames per token, F0 in a voiced range and
spectra near unity (``exp`` of a random conv output otherwise overflows).
"""

from __future__ import annotations

import copy

import torch

from kokoro_trt.config import ModelConfig


def tiny_config() -> ModelConfig:
    raw = copy.deepcopy(dict(ModelConfig.default().raw))
    raw["plbert"].update(hidden_size=32, num_attention_heads=2, intermediate_size=64, num_hidden_layers=1)
    raw["n_layer"] = 1
    raw["istftnet"].update(resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3, 5]])
    return ModelConfig.from_dict(raw)


def tiny_kmodel(seed: int = 0):
    from kokoro_trt.export.kmodel import build_kmodel

    torch.manual_seed(seed)
    model = build_kmodel(tiny_config())
    with torch.no_grad():
        model.predictor.duration_proj.linear_layer.bias.fill_(-3.0)  # ~2-3 frames per token
        model.predictor.F0_proj.weight.mul_(20.0)
        model.predictor.F0_proj.bias.fill_(150.0)  # mostly voiced, around 150 Hz
        post = model.decoder.generator.conv_post
        post.weight_g.mul_(0.05)
    return model


def save_tiny_checkpoint(path) -> None:
    """The tiny model's weights in Kokoro's ``.pth`` layout (what ``export_model`` reads)."""
    model = tiny_kmodel()
    parts = ("bert", "bert_encoder", "predictor", "text_encoder", "decoder")
    torch.save({key: getattr(model, key).state_dict() for key in parts}, path)
