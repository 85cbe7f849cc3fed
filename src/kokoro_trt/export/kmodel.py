"""Build ``kokoro.model.KModel`` from a config and a state dict, never touching the network."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from kokoro.model import KModel

from ..config import ModelConfig

StateDict = Mapping[str, Mapping[str, torch.Tensor]]
"""Kokoro's checkpoint layout: {"bert": {...}, "bert_encoder": {...}, "predictor": ..., ...}."""


def build_kmodel(config: ModelConfig, state_dict: StateDict | None = None) -> KModel:
    """A KModel in eval mode with ``state_dict`` loaded strictly (random weights when ``None``)."""
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # Upstream's own construction warnings (single-layer LSTM dropout, legacy weight_norm).
        warnings.filterwarnings("ignore", "dropout option adds dropout", UserWarning)
        warnings.filterwarnings("ignore", ".*weight_norm.* is deprecated", FutureWarning)
        empty = Path(tmp) / "empty.pth"
        torch.save({}, empty)
        # With both config and model given, KModel downloads nothing.
        model = KModel(repo_id="hexgrad/Kokoro-82M", config=dict(config.raw), model=str(empty))
    for key, params in (state_dict or {}).items():
        getattr(model, key).load_state_dict(params, strict=True)
    return model.eval()


def fold_weight_norm(model: torch.nn.Module) -> torch.nn.Module:
    """Replace weight-norm parametrisations by plain weights (in place) so graphs hold one tensor."""
    for module in model.modules():
        if hasattr(module, "weight_g") and hasattr(module, "weight_v"):
            torch.nn.utils.remove_weight_norm(module)
    return model
