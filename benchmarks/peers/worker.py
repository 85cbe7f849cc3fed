"""One contender of ``bench_peers.py`` in a process of its own, so load time and memory are its own.

Run by the benchmark, not by hand::

    python benchmarks/peers/worker.py prepare '{"pth": ..., "graphs_parent": ...}'   # one-off files
    python benchmarks/peers/worker.py <contender> '<config json>'                   # a worker

A worker loads its contender, says ``ready`` (load time, resident memory), then answers one JSON
request per stdin line with one JSON line: ``warmup``/``synth`` (whole text, timed inside the worker,
the audio saved to ``save`` after the clock stops), ``first`` (time to the first streamed chunk),
``playback`` (the whole stream against a listener who starts playing at the first chunk: how long
playback waits for later chunks) and ``exit`` (memory high-water mark). Replies go to the original stdout; anything a library prints goes
to stderr, so the protocol cannot be corrupted.

Contenders (same text, voice and thread count):

* ``kokoro-trt``: this project on ONNX Runtime CPU, FP32 graphs.
* ``kokoro-trt-int8``: the same with the opt-in INT8 decoder (``precision="int8"``), built by ``prepare``.
* ``kokoro-onnx``: kokoro-onnx 0.6.1 with the INT8 ``kokoro-v1.0.int8.onnx``; its session is built
  here with the same thread settings as ours (kokoro-onnx's own ``create_session`` takes none).
* ``kokoro-torch``: ``kokoro.KModel`` eager on torch CPU, FP32 weights from the same source as
  kokoro-trt's graphs, fed kokoro-trt's phoneme chunks (so only the model differs).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time

_T0 = time.perf_counter()  # before any contender import: load time = imports + construction

# Replies get the real stdout; the libraries' prints (kokoro warns on stdout) go to stderr.
_REPLY = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

SAMPLE_RATE = 24_000


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _reply(obj: dict) -> None:
    _REPLY.write(json.dumps(obj) + "\n")


# -- contenders -------------------------------------------------------------------------------------
# Each returns (synthesize(text) -> float32 audio, stream(text) -> iterator of float32 audio chunks as
# they are made, info dict).


def _kokoro_trt(cfg: dict, precision: str = "fp32"):
    from kokoro_trt.runtime import load_kokoro

    model = load_kokoro(
        "cpu", graphs=cfg["graphs"], voices_dir=cfg["voices_dir"], threads=cfg["threads"], precision=precision
    )
    voice = cfg["voice"]

    def synthesize(text: str):
        return model.synthesize(text, voice, max_seconds=None)

    def stream(text: str):
        return (chunk.audio for chunk in model.stream(text, voice, max_seconds=None))

    info = {
        "backend": model.backend_name,
        "threads": getattr(model.backend, "threads", None),
        "precision": "FP32" if precision == "fp32" else "INT8 decoder, FP32 duration and prosody",
        "streams": "yes (head of <=10 phonemes first, then growing pieces)",
    }
    return synthesize, stream, info


def _kokoro_onnx(cfg: dict):
    if cfg.get("kokoro_onnx_site"):  # installed by the benchmark (``bench_peers.kokoro_onnx_site``)
        sys.path.insert(0, cfg["kokoro_onnx_site"])
    import asyncio
    import importlib.metadata

    import onnxruntime as ort
    from kokoro_onnx import Kokoro

    options = ort.SessionOptions()  # as kokoro-trt's CPU backend: fixed intra-op threads, 1 inter-op
    options.intra_op_num_threads = cfg["threads"]
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(cfg["onnx_model"], options, providers=["CPUExecutionProvider"])
    kokoro = Kokoro.from_session(session, cfg["voices_bin"])
    voice = cfg["voice"]

    def synthesize(text: str):
        audio, rate = kokoro.create(text, voice, speed=1.0, lang="en-us")
        assert rate == SAMPLE_RATE, rate
        return audio

    def stream(text: str):
        loop = asyncio.new_event_loop()
        chunks = kokoro.create_stream(text, voice, speed=1.0, lang="en-us")
        try:
            while True:
                try:
                    audio, _ = loop.run_until_complete(anext(chunks))
                except StopAsyncIteration:
                    return
                yield audio
        finally:
            # Closed after its first chunk: wait for the batch kokoro-onnx already started in its
            # executor, so nothing runs on into the next measurement.
            loop.run_until_complete(chunks.aclose())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    info = {
        "version": importlib.metadata.version("kokoro-onnx"),
        "threads": cfg["threads"],
        "precision": "INT8 (dynamic quantisation)",
        "streams": "yes (create_stream, batches of <=510 phonemes)",
    }
    return synthesize, stream, info


def _kokoro_torch(cfg: dict):
    import importlib.metadata

    import numpy as np
    import torch
    from kokoro import KModel

    from kokoro_trt.config import ModelConfig
    from kokoro_trt.text.frontend import TextFrontend
    from kokoro_trt.voices.store import VoiceStore

    torch.set_num_threads(cfg["threads"])
    config = ModelConfig.default()
    # As a kokoro user loads it: config + .pth (the FP32 state dict kokoro-trt's export starts from).
    kmodel = KModel(repo_id="hexgrad/Kokoro-82M", config=dict(config.raw), model=cfg["pth"]).eval()
    frontend = TextFrontend(config.vocab, lang="en-us").load()
    voices = VoiceStore(cfg["voices_dir"])
    voice = cfg["voice"]

    def run(chunk):
        ref_s = torch.from_numpy(np.array(voices.style(voice, len(chunk.phonemes))))
        return kmodel(chunk.phonemes, ref_s=ref_s, speed=1).numpy()

    def synthesize(text: str):
        with torch.inference_mode():
            return np.concatenate([run(c) for c in frontend.chunks(text) if c.phonemes])

    def stream(text: str):
        # kokoro's KPipeline yields chunk by chunk; here with kokoro-trt's chunks, head split off too.
        for chunk in frontend.chunks(text, head_tokens=30):
            if chunk.phonemes:
                with torch.inference_mode():
                    yield run(chunk)

    info = {
        "version": importlib.metadata.version("kokoro"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "precision": "FP32",
        "streams": "per chunk (kokoro-trt's chunks, head split as kokoro-trt does)",
    }
    return synthesize, stream, info


CONTENDERS = {
    "kokoro-trt": _kokoro_trt,
    "kokoro-trt-int8": functools.partial(_kokoro_trt, precision="int8"),
    "kokoro-onnx": _kokoro_onnx,
    "kokoro-torch": _kokoro_torch,
}


# -- one-off preparation ----------------------------------------------------------------------------


def prepare(cfg: dict) -> dict:
    """Exported graphs (cache) with their CPU forms, and the FP32 ``.pth`` for torch: done here so the
    parent stays small."""
    from pathlib import Path

    from kokoro_trt.assets import resolve_weights

    weights = resolve_weights(local_files_only=True)
    out: dict = {
        "weights": str(weights.path),
        "weights_format": weights.format,
        "weights_origin": weights.origin,
    }
    if cfg.get("graphs", True):
        from kokoro_trt.export.pipeline import export_model
        from kokoro_trt.runtime.cpu_decoder import cpu_decoder

        graphs = export_model(weights, progress=False)
        cpu_decoder(graphs)  # as `kokoro-trt export` does: a worker's load never includes this rewrite
        out["graphs"] = str(graphs.directory)
        if cfg.get("int8_voices_dir"):
            from kokoro_trt.runtime.int8 import ensure_int8_decoder

            int8 = ensure_int8_decoder(graphs, voices_dir=cfg["int8_voices_dir"], progress=False)
            cpu_decoder(graphs, int8)
            out["int8_decoder"] = str(int8)
    pth = None
    if cfg.get("pth_dir"):
        from kokoro_trt.storage import sha256_file

        pth = str(Path(cfg["pth_dir"]) / f"kmodel-fp32-{sha256_file(weights.path)[:16]}.pth")
    if pth and not Path(pth).is_file():
        import torch

        from kokoro_trt.config import ModelConfig
        from kokoro_trt.export.pipeline import load_state_dict

        state = load_state_dict(weights, ModelConfig.default())
        Path(pth).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(pth).with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, pth)
    out["pth"] = pth
    return out


def main(argv: list[str]) -> None:
    name, cfg = argv[0], json.loads(argv[1])
    if name == "prepare":
        _reply(prepare(cfg))
        return
    synthesize, stream, info = CONTENDERS[name](cfg)
    load_s = time.perf_counter() - _T0
    _reply(
        {
            "event": "ready",
            "contender": name,
            "load_s": round(load_s, 3),
            "rss_after_load_mb": _status_mb("VmRSS"),
            "hwm_after_load_mb": _status_mb("VmHWM"),
        }
        | info
    )
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "exit":
            _reply({"event": "exit", "vm_hwm_mb": _status_mb("VmHWM"), "vm_rss_mb": _status_mb("VmRSS")})
            return
        start = time.perf_counter()
        extra = {}
        if op == "first":
            chunks = stream(req["text"])
            audio = next(chunks)
            arrived = time.perf_counter()
            chunks.close()
        elif op == "playback":
            audio, arrived, extra = _playback(stream(req["text"]), start)
        else:
            audio = synthesize(req["text"])
            arrived = time.perf_counter()
        elapsed = arrived - start
        if req.get("save"):
            import numpy as np

            np.save(req["save"], np.asarray(audio, dtype=np.float32))
        reply = {"event": op, "seconds": round(elapsed, 4), "samples": len(audio), "rss_mb": _status_mb("VmRSS")}
        _reply(reply | extra)


def _playback(chunks, start: float):
    """The first chunk, when it arrived, and what a listener who starts playing it at once would wait
    for later chunks: ``stall_s`` in all, ``longest_stall_s``, over ``chunks`` chunks."""
    first, arrived, plays_until = None, 0.0, 0.0
    stalls = []
    for audio in chunks:
        now = time.perf_counter()
        if first is None:
            first, arrived, plays_until = audio, now, now
        stalls.append(max(0.0, now - plays_until))
        plays_until = max(plays_until, now) + len(audio) / SAMPLE_RATE
    extra = {"stall_s": round(sum(stalls), 3), "longest_stall_s": round(max(stalls), 3), "chunks": len(stalls)}
    return first, arrived, extra


if __name__ == "__main__":
    main(sys.argv[1:])
