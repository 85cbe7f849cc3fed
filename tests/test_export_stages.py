"""The traceable stages reproduce KModel, and the conv STFT reproduces torch's complex STFT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audio_metrics import log_spectral_distance
from kokoro_trt.export.kmodel import fold_weight_norm
from kokoro_trt.export.stages import DecoderStage, DurationStage, ProsodyStage, round_durations
from kokoro_trt.export.stft import ConvSTFT
from tiny_model import tiny_kmodel

kokoro_istftnet = pytest.importorskip("kokoro.istftnet")


def test_conv_stft_matches_torch_stft():
    reference = kokoro_istftnet.TorchSTFT(20, 5, 20)
    ours = ConvSTFT(20, 5)
    signal = torch.randn(1, 6000, generator=torch.Generator().manual_seed(0)) * 0.3
    magnitude, phase = ours.transform(signal)
    ref_magnitude, ref_phase = reference.transform(signal)
    assert torch.allclose(magnitude, ref_magnitude, atol=1e-5)
    wrapped = torch.remainder(phase - ref_phase + torch.pi, 2 * torch.pi) - torch.pi
    assert wrapped.abs().max() < 1e-4


def test_conv_istft_matches_torch_istft():
    reference = kokoro_istftnet.TorchSTFT(20, 5, 20)
    ours = ConvSTFT(20, 5)
    gen = torch.Generator().manual_seed(1)
    magnitude = torch.exp(torch.randn(1, 11, 801, generator=gen))
    phase = torch.sin(torch.randn(1, 11, 801, generator=gen))
    expected = reference.inverse(magnitude, phase)[:, 0]
    actual = ours.inverse(magnitude, phase)
    assert actual.shape == expected.shape == (1, 4000)
    assert (actual - expected).norm() / expected.norm() < 1e-5


def test_real_axis_phase_follows_fft_convention():
    """A constant signal has real-valued DC/Nyquist bins; their phase must be 0 or pi, never -pi."""
    _, phase = ConvSTFT(20, 5).transform(-torch.ones(1, 400))
    _, ref_phase = kokoro_istftnet.TorchSTFT(20, 5, 20).transform(-torch.ones(1, 400))
    assert torch.equal(phase[:, [0, 10]], ref_phase[:, [0, 10]])
    assert not (phase[:, [0, 10]] < 0).any()


def test_stages_reproduce_kmodel_with_the_same_noise():
    model = tiny_kmodel()
    rng = np.random.default_rng(0)
    ids = torch.tensor([[0, *rng.integers(1, 170, 30), 0]])
    style = torch.from_numpy(rng.standard_normal((1, 256)).astype(np.float32) * 0.3)
    with torch.no_grad():
        durations, d, t_en = DurationStage(model, carry_rounding=False)(ids, style, torch.tensor([1.0]))
        frame_index = torch.repeat_interleave(torch.arange(ids.shape[1]), durations)
        f0, n = ProsodyStage(model)(d, frame_index, style)
        noise = torch.from_numpy(rng.standard_normal((1, frame_index.numel() * 600)).astype(np.float32))
        # KModel draws 9 noise channels; feeding it ours along the mixing weights' direction is the
        # same excitation our one-channel source produces.
        weight = model.decoder.generator.m_source.l_linear.weight[0]
        noise9 = noise[..., None] * (weight / weight.norm())
        real_randn_like = torch.randn_like
        torch.randn_like = lambda x, *a, **k: noise9.clone() if x.shape[-1] == 9 else torch.zeros_like(x)
        try:
            expected_audio, expected_durations = model.forward_with_tokens(ids, style, 1.0)
        finally:
            torch.randn_like = real_randn_like
        fold_weight_norm(model)
        audio = DecoderStage(model)(t_en, frame_index, f0, n, style, noise)
    assert torch.equal(durations, expected_durations)
    assert audio.shape == expected_audio.shape
    assert log_spectral_distance(audio.numpy(), expected_audio.numpy()) < 0.5


def test_carried_rounding_keeps_the_total_and_every_token_close():
    frames = torch.rand(1, 400, generator=torch.Generator().manual_seed(3)) * 6 / 1.2
    carried = round_durations(frames)
    upstream = round_durations(frames, carry_rounding=False)
    assert (carried >= 1).all() and (carried - upstream).abs().max() <= 1
    assert abs(int(carried.sum()) - float(frames.clamp(min=1).sum())) <= 0.02 * float(frames.sum())
    assert abs(int(upstream.sum()) - float(frames.sum())) > abs(int(carried.sum()) - float(frames.sum()))
