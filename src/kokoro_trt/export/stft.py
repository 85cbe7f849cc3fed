"""Short-time Fourier transforms as convolutions, numerically matching ``torch.stft`` / ``torch.istft``.

Kokoro's generator uses complex STFTs, which no ONNX exporter or TensorRT can run. These real-valued
versions (Hann window, ``center=True``, reflect padding, one-sided spectrum) reproduce the complex
ones to ~1e-6 and export to plain Conv / ConvTranspose nodes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _angle(real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
    """``torch.angle`` of ``real + i imag``, including its conventions on the real axis.

    A complex FFT returns an imaginary part of exactly +0 at DC and Nyquist, so ``torch.angle`` gives
    0 or pi there. A convolution may produce -0 instead, which ``atan2`` turns into -pi: a jump the
    generator's convolutions would see. Pin every real-axis value to the FFT's convention.
    """
    on_axis = torch.where(real < 0, torch.full_like(real, math.pi), torch.zeros_like(real))
    return torch.where(imag == 0, on_axis, torch.atan2(imag, real))


class ConvSTFT(nn.Module):
    """Forward transform to (magnitude, phase) and inverse from (magnitude, phase)."""

    analysis: torch.Tensor
    synthesis: torch.Tensor
    window_sq: torch.Tensor

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        bins = n_fft // 2 + 1
        n = torch.arange(n_fft, dtype=torch.float64)
        k = torch.arange(bins, dtype=torch.float64).unsqueeze(1)
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        angle = 2 * math.pi * k * n / n_fft  # [bins, n_fft]
        sine = torch.sin(angle)
        sine[(2 * k * n) % n_fft == 0] = 0.0  # exact zeros at DC and Nyquist, as in an FFT

        # Analysis: X_k = sum_n x[n] w[n] e^{-i angle}; real and imaginary parts as conv kernels.
        analysis = torch.cat([torch.cos(angle) * window, -sine * window])
        # Synthesis: one-sided inverse DFT (DC and Nyquist counted once, their imaginary parts
        # ignored as in a C2R transform), windowed for overlap-add.
        weight = torch.full((bins, 1), 2.0, dtype=torch.float64)
        weight[0] = 1.0
        if n_fft % 2 == 0:
            weight[-1] = 1.0
        synthesis = torch.cat([weight * torch.cos(angle), -weight * sine]) * window / n_fft

        self.register_buffer("analysis", analysis.unsqueeze(1).float(), persistent=False)
        self.register_buffer("synthesis", synthesis.unsqueeze(1).float(), persistent=False)
        self.register_buffer("window_sq", (window**2).view(1, 1, -1).float(), persistent=False)

    def transform(self, signal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``signal`` [B, L] → magnitude, phase [B, bins, L // hop + 1]."""
        pad = self.n_fft // 2
        padded = F.pad(signal.unsqueeze(1), (pad, pad), mode="reflect")
        spec = F.conv1d(padded, self.analysis, stride=self.hop_length)
        real, imag = spec.chunk(2, dim=1)
        return torch.sqrt(real * real + imag * imag), _angle(real, imag)

    def inverse(self, magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """magnitude, phase [B, bins, M] → signal [B, hop * (M - 1)]."""
        spec = torch.cat([magnitude * torch.cos(phase), magnitude * torch.sin(phase)], dim=1)
        frames = F.conv_transpose1d(spec, self.synthesis, stride=self.hop_length)
        envelope = F.conv_transpose1d(torch.ones_like(spec[:, :1]), self.window_sq, stride=self.hop_length)
        pad = self.n_fft // 2
        return (frames[:, 0, pad:-pad]) / envelope[:, 0, pad:-pad]
