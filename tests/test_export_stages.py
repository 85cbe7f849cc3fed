"""The traceable stages reproduce KModel, and the conv STFT reproduces torch's complex STFT."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kokoro_trt.export.kmodel import fold_weight_norm
from kokoro_trt.export.source import HarmonicSource
from kokoro_trt.export.stages import (
    DecoderStage,
    DurationStage,
    ProsodyStage,
    RepeatUpsample,
    repeat_upsampling,
    round_durations,
)
from kokoro_trt.export.stft import ConvSTFT
from tests.audio_metrics import log_spectral_distance
from tests.tiny_model import tiny_kmodel

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
    """In float64, where upstream's absolute source phase is exact too.

    A random-weight decoder is chaotic in the source phase, and upstream's float32 phase is off by up
    to ~0.1 rad at 45 s (see the next test), so a float32 comparison would measure upstream's error.
    """
    model = tiny_kmodel().double()
    rng = np.random.default_rng(0)
    ids = torch.tensor([[0, *rng.integers(1, 170, 30), 0]])
    style = torch.from_numpy(rng.standard_normal((1, 256)) * 0.3)
    with torch.no_grad():
        durations, d, t_en = DurationStage(model, carry_rounding=False)(ids, style, torch.tensor([1.0]))
        frame_index = torch.repeat_interleave(torch.arange(ids.shape[1]), durations)
        f0, n = ProsodyStage(model)(d, frame_index, style)
        noise = torch.from_numpy(rng.standard_normal((1, frame_index.numel() * 600)))
        # KModel draws 9 noise channels; feeding it ours along the mixing weights' direction is the
        # same excitation our one-channel source produces.
        weight = model.decoder.generator.m_source.l_linear.weight[0]
        noise9 = noise[..., None] * (weight / weight.norm())
        real_randn_like = torch.randn_like
        torch.randn_like = lambda x, *a, **k: noise9.clone() if x.shape[-1] == 9 else torch.zeros_like(x)
        torch.set_default_dtype(torch.float64)  # KModel builds its alignment in the default dtype
        try:
            expected_audio, expected_durations = model.forward_with_tokens(ids, style, 1.0)
        finally:
            torch.randn_like = real_randn_like
            torch.set_default_dtype(torch.float32)
        fold_weight_norm(model)
        audio = DecoderStage(model).double()(t_en, frame_index, f0, n, style, noise)
    assert torch.equal(durations, expected_durations)
    assert audio.shape == expected_audio.shape
    assert log_spectral_distance(audio.float().numpy(), expected_audio.float().numpy()) < 0.1


def _upstream_phase(f0: torch.Tensor, scale: int = 300, sample_rate: float = 24000.0) -> torch.Tensor:
    """Upstream SineGen's phase in cycles (cumulative sum, then linear up-sampling), in float64."""
    rad = (f0.double().unsqueeze(-1) * torch.arange(1, 10, dtype=torch.float64) / sample_rate) % 1
    phase = torch.cumsum(rad, dim=1) * scale
    return F.interpolate(phase.transpose(1, 2), scale_factor=float(scale), mode="linear").transpose(1, 2)


def test_source_phase_stays_accurate_over_45_seconds():
    """Against a float64 reference, every harmonic's sine is right to 2e-3 at 45 s of audio (upstream's
    float32 accumulation is off by ~0.1 there, and a GPU's parallel sum differs from a CPU's)."""
    source = HarmonicSource(tiny_kmodel().decoder.generator.m_source, 300)
    gen = torch.Generator().manual_seed(0)
    frames = 3600  # F0 runs at twice the duration-frame rate: 45 s of audio
    f0 = 180 + 60 * torch.sin(torch.arange(frames) / 40.0) + 5 * torch.randn(frames, generator=gen)
    f0[1000:1100] = 0.0  # an unvoiced stretch
    with torch.no_grad():
        ours = source.phase(f0.unsqueeze(0)).double()
    reference = _upstream_phase(f0.unsqueeze(0))
    assert ours.shape == reference.shape == (1, frames * 300, 9)
    error = torch.sin(2 * torch.pi * ours) - torch.sin(2 * torch.pi * reference)
    assert error.abs().max() < 2e-3
    assert ours.abs().max() < 32  # wrapped: a few cycles, never the 1e6 of the absolute phase


def test_repeat_upsampling_equals_nearest_resize():
    x = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(4))
    expected = F.interpolate(x, scale_factor=2, mode="nearest")
    assert torch.equal(RepeatUpsample()(x), expected)
    model = repeat_upsampling(tiny_kmodel())
    assert not any(isinstance(m, kokoro_istftnet.UpSample1d) and m.layer_type != "none" for m in model.modules())


def test_carried_rounding_keeps_the_total_and_every_token_close():
    frames = torch.rand(1, 400, generator=torch.Generator().manual_seed(3)) * 6 / 1.2
    carried = round_durations(frames)
    upstream = round_durations(frames, carry_rounding=False)
    assert (carried >= 1).all() and (carried - upstream).abs().max() <= 1
    assert abs(int(carried.sum()) - float(frames.clamp(min=1).sum())) <= 0.02 * float(frames.sum())
    assert abs(int(upstream.sum()) - float(frames.sum())) > abs(int(carried.sum()) - float(frames.sum()))
