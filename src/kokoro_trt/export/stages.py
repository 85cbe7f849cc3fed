"""Traceable stages of ``kokoro.model.KModel`` for a batch of one, unpadded.

``KModel.forward_with_tokens`` mixes three things an exporter cannot handle: data-dependent shapes
(``repeat_interleave`` by predicted durations), in-place writes and random numbers. It is split here:

* :class:`DurationStage` (graph ``duration``): token ids, style, speed → durations [T] plus the
  features the later stages need. Token axis T is dynamic.
* the alignment (repeat features by durations) is an index ``frame_index`` [F] the runtime builds
  between the graphs, so every later shape is known before they run;
* :class:`ProsodyStage` (graph ``prosody``): features gathered by ``frame_index`` → F0 and N [1, 2F];
  pitch and energy can be edited between this stage and the next;
* :class:`DecoderStage` (graph ``decoder``): → audio [F × samples_per_frame], clipped to [-1, 1].

For one unpadded sequence, upstream's ``pack_padded_sequence``, attention mask and masked fills are
identities, so they are left out. Upstream's nearest ×2 up-sampling (``UpSample1d``, a ``Resize``) is
replaced by repeating each frame (:class:`RepeatUpsample`): the same numbers, and TensorRT's graph
compiler rejects a ``Resize`` after an LSTM over a dynamic length (``resize_lowering.cpp``).
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
import torch.nn.functional as F
from kokoro.istftnet import UpSample1d
from kokoro.model import KModel
from kokoro.modules import DurationEncoder, TextEncoder
from torch import nn

from .snake import fold_snakes
from .source import HarmonicSource
from .stft import ConvSTFT

STYLE_SPLIT = 128
"""Columns 0..127 of a style vector feed the decoder, 128..255 the prosody predictor."""
M = TypeVar("M", bound=nn.Module)


class RepeatUpsample(nn.Module):
    """Nearest ×2 up-sampling along the last axis as stack-and-flatten: [B, C, T] → [B, C, 2T]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack((x, x), dim=-1).flatten(-2)


def repeat_upsampling(module: M) -> M:
    """Swap every up-sampling ``UpSample1d`` inside ``module`` for :class:`RepeatUpsample` (in place)."""
    for block in module.modules():
        upsample = getattr(block, "upsample", None)
        if isinstance(upsample, UpSample1d) and upsample.layer_type != "none":
            block.upsample = RepeatUpsample()
    return module


def _duration_encoder(encoder: DurationEncoder, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """``DurationEncoder.forward`` for one unpadded sequence: x [1, C, T] → [1, T, C + S]."""
    s = style.unsqueeze(2).expand(-1, -1, x.shape[2])  # [1, S, T]
    x = torch.cat([x, s], dim=1)
    for block in encoder.lstms:
        if isinstance(block, nn.LSTM):
            x = block(x.transpose(1, 2))[0].transpose(1, 2)
        else:  # AdaLayerNorm
            x = block(x.transpose(1, 2), style).transpose(1, 2)
            x = torch.cat([x, s], dim=1)
    return x.transpose(1, 2)


def _text_encoder(encoder: TextEncoder, input_ids: torch.Tensor) -> torch.Tensor:
    """``TextEncoder.forward`` for one unpadded sequence: ids [1, T] → [1, C, T]."""
    x = encoder.embedding(input_ids).transpose(1, 2)
    for layer in encoder.cnn:
        x = layer(x)
    return encoder.lstm(x.transpose(1, 2))[0].transpose(1, 2)


def round_durations(frames: torch.Tensor, carry_rounding: bool = True) -> torch.Tensor:
    """Fractional frames per token → whole frames, at least one per token.

    Upstream rounds each token on its own, so at speed 1.2 a 1.4-frame phoneme still takes one frame
    and 1.6 still takes two: short phonemes barely shrink and the audio ends ~8% too long. Rounding
    the running total instead carries each remainder to the next token, so the total follows
    ``1 / speed`` (±1 frame per token against upstream). ``carry_rounding=False`` is upstream's rule.
    """
    if not carry_rounding:
        return torch.round(frames).clamp(min=1).long()
    ends = torch.round(torch.cumsum(frames, dim=-1))
    starts = torch.cat([torch.zeros_like(ends[..., :1]), ends[..., :-1]], dim=-1)
    return (ends - starts).clamp(min=1).long()


class DurationStage(nn.Module):
    """ids [1, T], style [1, 256], speed [1] → durations [T] int64, d [1, T, 640], t_en [1, 512, T]."""

    def __init__(self, kmodel: KModel, carry_rounding: bool = True) -> None:
        super().__init__()
        self.carry_rounding = carry_rounding
        self.bert = kmodel.bert
        self.bert_encoder = kmodel.bert_encoder
        self.predictor = kmodel.predictor
        self.text_encoder = kmodel.text_encoder

    def forward(self, input_ids: torch.Tensor, style: torch.Tensor, speed: torch.Tensor):
        bert = self.bert(input_ids, attention_mask=torch.ones_like(input_ids))
        d_en = self.bert_encoder(bert).transpose(1, 2)
        d = _duration_encoder(self.predictor.text_encoder, d_en, style[:, STYLE_SPLIT:])
        x = self.predictor.lstm(d)[0]
        duration = torch.sigmoid(self.predictor.duration_proj(x)).sum(dim=-1) / speed
        durations = round_durations(duration, self.carry_rounding)[0]
        t_en = _text_encoder(self.text_encoder, input_ids)
        return durations, d, t_en


class ProsodyStage(nn.Module):
    """d [1, T, 640], frame_index [F], style [1, 256] → F0 [1, 2F], N [1, 2F]."""

    def __init__(self, kmodel: KModel) -> None:
        super().__init__()
        self.predictor = repeat_upsampling(kmodel.predictor)

    def forward(self, d: torch.Tensor, frame_index: torch.Tensor, style: torch.Tensor):
        en = torch.index_select(d, 1, frame_index).transpose(1, 2)
        return self.predictor.F0Ntrain(en, style[:, STYLE_SPLIT:])


class DecoderStage(nn.Module):
    """t_en [1, 512, T], frame_index [F], F0, N [1, 2F], style [1, 256], noise [1, L] → audio [L].

    ``L = F × samples_per_frame``; ``noise`` is standard normal (see :mod:`.source`). The generator's
    Snake blocks run with their scales folded (:mod:`.snake`) unless ``folded_snakes`` is false.
    """

    def __init__(self, kmodel: KModel, folded_snakes: bool = True) -> None:
        super().__init__()
        self.decoder = repeat_upsampling(kmodel.decoder)
        generator = self.decoder.generator
        self.resblocks = fold_snakes(generator.resblocks) if folded_snakes else generator.resblocks
        self.noise_res = fold_snakes(generator.noise_res) if folded_snakes else generator.noise_res
        scale = math.prod(up.stride[0] for up in generator.ups) * generator.stft.hop_length
        self.source = HarmonicSource(generator.m_source, scale)
        self.stft = ConvSTFT(generator.post_n_fft, generator.stft.hop_length)

    def forward(self, t_en, frame_index, f0, n, style, noise):
        asr = torch.index_select(t_en, 2, frame_index)
        audio = self._decode(asr, f0, n, style[:, :STYLE_SPLIT], noise)
        return audio[0].clamp(-1.0, 1.0)

    def _decode(self, asr, f0_curve, n_curve, s, noise):
        """``Decoder.forward`` with the deterministic source and real-valued STFT."""
        dec = self.decoder
        f0 = dec.F0_conv(f0_curve.unsqueeze(1))
        n = dec.N_conv(n_curve.unsqueeze(1))
        x = dec.encode(torch.cat([asr, f0, n], dim=1), s)
        asr_res = dec.asr_res(asr)
        residual = True
        for block in dec.decode:
            if residual:
                x = torch.cat([x, asr_res, f0, n], dim=1)
            x = block(x, s)
            if block.upsample_type != "none":
                residual = False
        return self._generate(x, s, f0_curve, noise)

    def _generate(self, x, s, f0_curve, noise):
        """``Generator.forward`` with the deterministic source and real-valued STFT."""
        gen = self.decoder.generator
        har_spec, har_phase = self.stft.transform(self.source(f0_curve, noise))
        har = torch.cat([har_spec, har_phase], dim=1)
        for i, upsample in enumerate(gen.ups):
            x = F.leaky_relu(x, negative_slope=0.1)
            x_source = self.noise_res[i](gen.noise_convs[i](har), s)
            x = upsample(x)
            if i == gen.num_upsamples - 1:
                x = gen.reflection_pad(x)
            x = x + x_source
            blocks = self.resblocks[i * gen.num_kernels : (i + 1) * gen.num_kernels]
            x = sum(block(x, s) for block in blocks) / gen.num_kernels
        x = gen.conv_post(F.leaky_relu(x))
        bins = gen.post_n_fft // 2 + 1
        return self.stft.inverse(torch.exp(x[:, :bins]), torch.sin(x[:, bins:]))
