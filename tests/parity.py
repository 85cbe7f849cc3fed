"""Run the exported graphs (ONNX Runtime CPU) and the torch stages on the same inputs and noise."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch

from kokoro_trt.export.kmodel import fold_weight_norm
from kokoro_trt.export.onnx_export import GRAPH_NAMES
from kokoro_trt.export.stages import DecoderStage, DurationStage, ProsodyStage


def torch_stages(kmodel: torch.nn.Module) -> tuple[DurationStage, ProsodyStage, DecoderStage]:
    model = fold_weight_norm(kmodel)
    return DurationStage(model), ProsodyStage(model), DecoderStage(model)


def onnx_sessions(graphs) -> dict[str, ort.InferenceSession]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return {name: ort.InferenceSession(str(graphs.path(name)), options) for name in GRAPH_NAMES}


def run_onnx_and_torch(ids: np.ndarray, style: np.ndarray, stages, sessions, seed: int = 0):
    """(durations, f0, n, audio) from ONNX Runtime and from torch, same inputs and same noise."""
    rng = np.random.default_rng(seed)
    tokens = ids.shape[1]
    speed = np.array([1.0], np.float32)
    durations, d, t_en = sessions["duration"].run(None, {"input_ids": ids, "style": style, "speed": speed})
    frame_index = np.repeat(np.arange(tokens), durations)
    f0, n = sessions["prosody"].run(None, {"d": d, "frame_index": frame_index, "style": style})
    noise = rng.standard_normal((1, frame_index.size * 600)).astype(np.float32)
    feeds = {"t_en": t_en, "frame_index": frame_index, "f0": f0, "n": n, "style": style, "noise": noise}
    (audio,) = sessions["decoder"].run(None, feeds)

    duration_stage, prosody_stage, decoder_stage = stages
    t = torch.from_numpy
    with torch.no_grad():
        ref_durations, ref_d, ref_t_en = duration_stage(t(ids), t(style), t(speed))
        ref_f0, ref_n = prosody_stage(ref_d, t(frame_index), t(style))
        ref_audio = decoder_stage(ref_t_en, t(frame_index), ref_f0, ref_n, t(style), t(noise))
    onnx_out = (durations, f0, n, audio)
    return onnx_out, tuple(x.numpy() for x in (ref_durations, ref_f0, ref_n, ref_audio))
