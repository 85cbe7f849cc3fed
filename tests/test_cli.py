"""The ``kokoro-trt`` command line."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf

from kokoro_trt.cli import main


@pytest.fixture
def tiny_model_flags(tiny_graphs, voices_dir) -> list[str]:
    """``speak`` flags that run the tiny model on ONNX Runtime CPU."""
    return ["--device", "cpu", "--graphs", str(tiny_graphs.directory), "--voices-dir", str(voices_dir)]


def test_speak_writes_a_wav(tiny_model_flags, tmp_path, capsys):
    out = tmp_path / "hello.wav"
    assert main(["speak", "Hello there.", "-o", str(out), *tiny_model_flags, "--voice", "morty"]) == 0
    audio, rate = sf.read(out)
    assert rate == 24000 and audio.ndim == 1 and len(audio) > 0
    assert "onnxruntime-cpu" in capsys.readouterr().out


def test_errors_are_one_clear_line(tiny_model_flags, tmp_path, capsys):
    code = main(["speak", "Hi.", "-o", str(tmp_path / "x.wav"), *tiny_model_flags, "--voice", "af_hert"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("kokoro-trt: error:") and "af_heart" in err
    assert "Traceback" not in err
    assert main(["speak", "Hi.", "--graphs", str(tmp_path / "missing")]) == 2
    assert "kokoro-trt export" in capsys.readouterr().err


def test_voices_lists_presets(capsys):
    assert main(["voices"]) == 0
    out = capsys.readouterr().out
    assert "af_heart" in out and "rick_c137" in out and "excited" in out


def test_build_without_tensorrt_says_what_to_install(tiny_graphs, capsys, monkeypatch):
    from kokoro_trt.engines import load_library

    for module in ("tensorrt", "tensorrt_rtx_bindings"):
        monkeypatch.setitem(sys.modules, module, None)  # as on a machine without either
    load_library.cache_clear()
    try:
        assert main(["build", "--graphs", str(tiny_graphs.directory)]) == 2
    finally:
        load_library.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("kokoro-trt: error: no TensorRT engine can be built for a GPU here")
    assert "kokoro-trt[gpu]" in err and "kokoro-trt[rtx]" in err and "Traceback" not in err
    assert "--backend tensorrt-rtx --arch sm86" in err


def test_serve_passes_given_flags_and_leaves_the_rest_to_the_environment(monkeypatch):
    from kokoro_trt import server

    calls: list[dict] = []
    monkeypatch.setattr(server, "serve", lambda **given: calls.append(given))
    argv = [
        "serve",
        "--port",
        "9000",
        "--cors-origin",
        "https://a.example",
        "--cors-origin",
        "https://b.example",
        "--max-audio-seconds",
        "600",
        "--cache-bytes",
        "0",
        "--decode-window-seconds",
        "6",
    ]
    assert main(argv) == 0
    assert calls == [
        {
            "port": 9000,
            "cors_origins": ["https://a.example", "https://b.example"],
            "max_audio_seconds": 600.0,
            "cache_bytes": 0,
            "decode_window_seconds": 6.0,
        }
    ]
    monkeypatch.setenv("KOKORO_TRT_QUEUE_SIZE", "4")
    settings = server.Settings(**calls[0])
    assert (
        settings.queue_size == 4 and settings.port == 9000 and settings.cors_origins == tuple(calls[0]["cors_origins"])
    )
    assert server.model_loader(settings).keywords["decode_window_seconds"] == 6.0


def test_serve_reports_a_bad_setting_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: None)
    assert main(["serve", "--workers", "0", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kokoro-trt: error: serve setting workers:") and "Traceback" not in err


def test_speak_flags_reach_the_model(tiny_model_flags, tmp_path):
    """Every synthesis flag shapes the audio (the CLI once lost ``--pitch-range``)."""
    common = [*tiny_model_flags, "--float"]

    def spoken(*flags: str):
        out = tmp_path / f"{len(list(tmp_path.iterdir()))}.wav"
        assert main(["speak", "Hello there, friend.", "-o", str(out), *common, *flags]) == 0
        return sf.read(out, dtype="float32")[0]

    plain = spoken()
    for flags in (["--pitch-range", "2"], ["--pitch", "3"], ["--energy", "1.5"], ["--seed", "9"], ["--lang", "en-gb"]):
        assert not np.array_equal(spoken(*flags), plain), flags
    assert np.array_equal(spoken("--pitch-range", "1"), plain)


def test_bad_flags_fail_before_the_model_loads(tmp_path, capsys):
    missing = str(tmp_path / "missing")  # loading would fail with another message
    assert main(["speak", "Hi.", "--graphs", missing, "--pitch-range", "9"]) == 2
    err = capsys.readouterr().err
    assert "pitch_range" in err and "kokoro-trt export" not in err


def test_every_server_setting_has_a_serve_flag():
    from kokoro_trt.cli import _SERVE_SETTINGS
    from kokoro_trt.server import Settings

    assert set(Settings.model_fields) == set(_SERVE_SETTINGS)
