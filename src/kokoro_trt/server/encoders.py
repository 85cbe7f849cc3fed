"""Incremental audio encoders: float32 chunks in, bytes out, ready to stream.

wav and pcm are 16-bit little-endian (a streamed wav header declares the largest length, as live
streams do); flac goes through soundfile; mp3, opus (Ogg) and aac (ADTS) through PyAV, flushed at the end.
"""

from __future__ import annotations

import io
import struct
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from typing_extensions import Buffer

MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
_AV_FORMATS = {
    "mp3": ("mp3", "libmp3lame", {}),
    "opus": ("ogg", "libopus", {"page_duration": "100000"}),
    "aac": ("adts", "aac", {}),
}
_UNKNOWN_LENGTH = 0xFFFFFFFF


class Encoder(Protocol):
    def encode(self, audio: np.ndarray) -> bytes: ...

    def finish(self) -> bytes: ...


def to_pcm16(audio: np.ndarray) -> bytes:
    """float32 in [-1, 1] → 16-bit signed little-endian bytes."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


def wav_header(sample_rate: int, data_bytes: int = _UNKNOWN_LENGTH) -> bytes:
    """A 44-byte PCM 16-bit mono RIFF header; the default length means 'until the stream ends'."""
    riff = _UNKNOWN_LENGTH if data_bytes == _UNKNOWN_LENGTH else 36 + data_bytes
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class PcmEncoder:
    """Raw 16-bit PCM; with ``header`` a wav stream of unknown length."""

    def __init__(self, sample_rate: int, header: bool = False) -> None:
        self._pending = wav_header(sample_rate) if header else b""

    def encode(self, audio: np.ndarray) -> bytes:
        out, self._pending = self._pending + to_pcm16(audio), b""
        return out

    def finish(self) -> bytes:
        out, self._pending = self._pending, b""
        return out


class SoundFileEncoder:
    """flac (or a sized wav) through soundfile: needs the whole audio, so it all comes out at the end."""

    def __init__(self, sample_rate: int, format: str) -> None:
        self.sample_rate, self.format = sample_rate, format.upper()
        self._chunks: list[np.ndarray] = []

    def encode(self, audio: np.ndarray) -> bytes:
        self._chunks.append(np.asarray(audio, dtype=np.float32))
        return b""

    def finish(self) -> bytes:
        import soundfile as sf

        buffer = io.BytesIO()
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        samples = np.frombuffer(to_pcm16(audio), "<i2")  # same rounding as pcm
        sf.write(buffer, samples, self.sample_rate, format=self.format, subtype="PCM_16")
        return buffer.getvalue()


class _Sink(io.RawIOBase):
    """A write-only file that hands back what was written since the last drain."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer) -> int:
        view = memoryview(data)
        self._buffer += view
        return view.nbytes

    def drain(self) -> bytes:
        out = bytes(self._buffer)
        self._buffer.clear()
        return out


class AvEncoder:
    """mp3 / opus / aac through PyAV (FFmpeg); PyAV re-frames to the codec's frame size."""

    def __init__(self, sample_rate: int, format: str) -> None:
        import av

        container, codec, options = _AV_FORMATS[format]
        self.sample_rate = sample_rate
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format=container, options=options)
        stream = self._container.add_stream(codec, rate=sample_rate, layout="mono")
        assert isinstance(stream, av.AudioStream)  # an audio codec gives an audio stream
        self._stream = stream

    def encode(self, audio: np.ndarray) -> bytes:
        import av

        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(audio, dtype=np.float32)[None], format="flt", layout="mono"
        )
        frame.sample_rate = self.sample_rate
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.drain()

    def finish(self) -> bytes:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.drain()


def make_encoder(format: str, sample_rate: int, *, streaming: bool) -> Encoder:
    """An encoder for ``format``; ``streaming`` wav gets the unknown-length header."""
    if format == "pcm":
        return PcmEncoder(sample_rate)
    if format == "wav":
        return PcmEncoder(sample_rate, header=True) if streaming else SoundFileEncoder(sample_rate, "wav")
    if format == "flac":
        return SoundFileEncoder(sample_rate, "flac")
    return AvEncoder(sample_rate, format)


def encode_all(format: str, audio: np.ndarray, sample_rate: int) -> bytes:
    """The whole of ``audio`` as one ``format`` file."""
    encoder = make_encoder(format, sample_rate, streaming=False)
    return encoder.encode(audio) + encoder.finish()


def apply_gain(audio: np.ndarray, volume: float) -> np.ndarray:
    """``audio`` times ``volume``, clipped to [-1, 1] (unchanged at 1)."""
    return audio if volume == 1.0 else np.clip(audio * np.float32(volume), -1.0, 1.0)
