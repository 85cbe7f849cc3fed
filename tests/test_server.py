"""The HTTP service against a live uvicorn server on 127.0.0.1, over the tiny random-weight model."""

from __future__ import annotations

import io
import json
import threading

import av
import httpx
import numpy as np
import pytest
import soundfile as sf

from kokoro_trt.server import Settings, create_app
from kokoro_trt.server.encoders import to_pcm16

TEXT = "Hello world. This is a streaming test. It has three sentences."


@pytest.fixture(scope="module")
def app(server_model):
    return create_app(server_model, Settings(api_key=None, queue_size=32))


def speech(client: httpx.Client, **body) -> httpx.Response:
    return client.post("/v1/audio/speech", json={"model": "kokoro", "input": TEXT, **body})


def streamed(client: httpx.Client, **body) -> tuple[httpx.Response, bytes]:
    with client.stream(
        "POST", "/v1/audio/speech", json={"model": "kokoro", "input": TEXT, "stream": True, **body}
    ) as r:
        return r, b"".join(r.iter_bytes())


def decode(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])


def test_official_openai_client(url):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed")
    result = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="wav", speed=1.2)
    audio, rate = sf.read(io.BytesIO(result.content))
    assert rate == 24000 and len(audio) > 0
    with client.audio.speech.with_streaming_response.create(
        model="tts-1",
        voice="nova",
        input=TEXT,
        response_format="pcm",
        extra_body={"emotion": "excited", "seed": 7},
    ) as response:
        pcm = b"".join(response.iter_bytes())
    assert len(pcm) > 0 and len(pcm) % 2 == 0
    assert [m.id for m in client.models.list()][:1] == ["kokoro"]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"voice": "af_sarah(0.3)+af_jessica(0.7)", "pitch": 2.0, "seed": 11},
        {"voice": "rick_c137", "emotion": "sad"},
    ],
)
def test_whole_responses_come_from_speak_and_streams_from_stream(client, server_model, options):
    kwargs = {
        "voice_id": options.get("voice", "af_heart"),
        "emotion": options.get("emotion", "neutral"),
        "seed": options.get("seed"),
        "pitch_shift": options.get("pitch"),
        "max_seconds": None,
    }
    whole = speech(client, response_format="pcm", **options)
    response, data = streamed(client, response_format="pcm", **options)
    assert whole.status_code == response.status_code == 200
    assert response.headers.get("transfer-encoding") == "chunked"
    assert whole.content == to_pcm16(server_model.speak(TEXT, **kwargs).audio)
    assert data == b"".join(to_pcm16(c.audio) for c in server_model.stream(TEXT, **kwargs))


def test_streamed_wav_is_header_plus_pcm(client):
    _, pcm = streamed(client, response_format="pcm", seed=1)
    _response, data = streamed(client, response_format="wav", seed=1)
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    assert data[40:44] == b"\xff\xff\xff\xff"  # unknown length: a live stream
    assert data[44:] == pcm


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac"])
@pytest.mark.parametrize("stream", [True, False])
def test_compressed_audio_keeps_the_tail(client, fmt, stream):
    post = streamed if stream else lambda c, **body: (r := speech(c, **body), r.content)
    samples = len(post(client, response_format="pcm", seed=2)[1]) // 2
    response, data = post(client, response_format=fmt, seed=2)
    assert response.status_code == 200
    decoded = decode(data)
    rate = 48000 if fmt == "opus" else 24000  # FFmpeg decodes Opus at 48 kHz
    assert len(decoded) * 24000 / rate >= samples - 0.01 * 24000  # nothing lost beyond codec delay
    assert len(decoded) * 24000 / rate <= samples + 0.1 * 24000  # codec priming and frame padding


@pytest.mark.parametrize("fmt", ["flac", "wav"])
def test_whole_files_are_lossless_pcm16(client, fmt):
    pcm = np.frombuffer(speech(client, response_format="pcm").content, "<i2")
    audio, rate = sf.read(io.BytesIO(speech(client, response_format=fmt).content), dtype="int16")
    assert rate == 24000 and np.array_equal(audio, pcm)


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"voice": "af_hart"}, "voice", "af_heart"),
        ({"voice": "rick_c13"}, "voice", "rick_c137"),
        ({"voice": "af_sarah(x)+"}, "voice", "Voice spec"),
        ({"input": ""}, "input", "at least 1"),
        ({"input": "   "}, "input", "text"),
        ({"response_format": "ogg"}, "response_format", "mp3"),
        ({"speed": 4.5}, "speed", "4"),
        ({"speed": 0.1}, "speed", "0.25"),
        ({"pitch": 30}, "pitch", "12"),
        ({"emotion": "hapy"}, "emotion", "Known emotions"),
        ({"model": "whisper-1"}, "model", "kokoro"),
        ({"seed": -1}, "seed", "0"),
        ({"temperature": 0.7}, "temperature", "unknown field"),
        ({"normalization_options": {"bogus": True}}, "normalization_options.bogus", "unknown field"),
        ({"return_download_link": True}, "return_download_link", "not offered"),
        ({"volume_multiplier": -1}, "volume_multiplier", "0"),
        ({"lang_code": "klingon"}, "lang_code", "unsupported language"),
        ({"lexicon": {"Kokoro": "kˈO§"}}, "lexicon", "vocabulary"),
        ({"input": "x" * 10_001}, "input", "10000"),
    ],
)
def test_bad_requests_get_openai_errors(client, body, param, fragment):
    response = speech(client, **body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert fragment in error["message"]


def test_bad_stream_request_fails_before_streaming(client):
    response, data = streamed(client, voice="nobody")
    assert response.status_code == 400 and json.loads(data)["error"]["param"] == "voice"


def test_malformed_json_and_unknown_route(client):
    response = client.post("/v1/audio/speech", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "error" in response.json()
    assert client.get("/v1/nothing").json()["error"]["message"] == "Not Found"


def test_voices_models_health_page(client):
    voices = client.get("/v1/audio/voices").json()
    assert "af_heart" in voices["voices"] and voices["openai_aliases"]["alloy"] == "af_alloy"
    assert "rick_c137" in {c["id"] for c in voices["characters"]}
    assert {"neutral", "excited"} <= {e["id"] for e in voices["emotions"]}
    assert "+" in voices["blend_syntax"]
    assert voices["voice_languages"]["ef_dora"] == "es" and voices["voice_languages"]["zf_xiaobei"] == "zh"
    assert {lang["code"] for lang in voices["languages"]} >= {
        "en-us",
        "en-gb",
        "es",
        "fr",
        "hi",
        "it",
        "ja",
        "pt-br",
        "zh",
    }
    assert {m["id"] for m in client.get("/v1/models").json()["data"]} >= {"kokoro", "tts-1"}
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["backend"] == "onnxruntime-cpu"
    page = client.get("/")
    assert page.status_code == 200 and "/v1/audio/voices" in page.text and "getReader" in page.text
    assert 'id="language"' in page.text and "lang_code" in page.text  # a user can pick the language


def test_metrics_exposition(client):
    speech(client, response_format="pcm", seed=99)
    text = client.get("/metrics").text
    for name in (
        "kokoro_requests_total",
        "kokoro_request_seconds_bucket",
        "kokoro_real_time_factor_bucket",
        "kokoro_queue_depth",
        "kokoro_first_audio_seconds_bucket",
        "kokoro_audio_seconds_total",
    ):
        assert name in text
    assert 'kokoro_requests_total{path="/v1/audio/speech",status="200"}' in text


def test_repeated_request_is_served_from_cache(client, app):
    hits = app.state.metrics.cache_hits._value.get()
    first = speech(client, response_format="pcm", input="Cache me once.", seed=5)
    second = speech(client, response_format="mp3", input="Cache me once.", seed=5)
    third = speech(client, response_format="pcm", input="Cache me once.", seed=5)
    assert first.status_code == second.status_code == 200 and third.content == first.content
    assert app.state.metrics.cache_hits._value.get() == hits + 2


def test_concurrent_clients_share_the_model(client, url):
    """Each of 16 concurrent requests gets exactly the audio it gets alone (a streamed one starts with a
    head of its own duration pass, so its samples are those of a stream alone, not of a whole response)."""
    expected = {
        (i, stream): speech(client, response_format="pcm", input=f"Client number {i} speaking.", stream=stream).content
        for i in (0, 1)
        for stream in (False, True)
    }
    assert expected[0, False] != expected[1, False]
    errors: list[str] = []
    results: dict[tuple[int, int], bytes] = {}
    modes: dict[tuple[int, int], bool] = {}

    def work(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as own:
            for attempt in range(2):
                stream = (worker + attempt) % 2 == 1
                body = {
                    "model": "kokoro",
                    "input": f"Client number {worker % 2} speaking.",
                    "response_format": "pcm",
                    "stream": stream,
                    "seed": None,
                }
                r = own.post("/v1/audio/speech", json=body)
                if r.status_code != 200:
                    errors.append(r.text)
                results[worker, attempt] = r.content
                modes[worker, attempt] = stream

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors and len(results) == 16
    assert all(data == expected[worker % 2, modes[worker, attempt]] for (worker, attempt), data in results.items())


def test_websocket_speaks_sentences_as_text_arrives(url, client):
    from websockets.sync.client import connect

    pieces = ["Hello wor", "ld. How are", " you? Fine", " thanks"]
    frames: list[bytes] = []
    events: list[dict] = []
    with connect(url.replace("http", "ws") + "/v1/audio/speech/ws") as ws:
        ws.send(json.dumps({"type": "config", "voice": "am_echo", "seed": 3}))
        for piece in pieces:
            ws.send(json.dumps({"type": "text", "text": piece}))
        ws.send(json.dumps({"type": "end"}))
        for message in ws:
            if isinstance(message, bytes):
                frames.append(message)
            else:
                events.append(json.loads(message))
    segments = [e for e in events if e["type"] == "segment"]
    assert [e["text"] for e in segments] == ["Hello world.", "How are you?", "Fine thanks"]
    assert [w["word"].strip("?") for w in segments[1]["words"]] == ["How", "are", "you"]
    assert events[-1] == {"type": "done"}
    expected = b"".join(
        speech(client, input=t, voice="am_echo", seed=3, response_format="pcm", stream=True).content
        for t in ("Hello world.", "How are you?", "Fine thanks")
    )
    assert b"".join(frames) == expected


def test_websocket_errors_keep_the_socket_open(url):
    from websockets.sync.client import connect

    with connect(url.replace("http", "ws") + "/v1/audio/speech/ws") as ws:
        ws.send(json.dumps({"type": "config", "voice": "af_hart"}))
        ws.send(json.dumps({"type": "text", "text": "Hi there. "}))
        error = json.loads(ws.recv())
        assert error["type"] == "error" and "af_heart" in error["error"]["message"]
        ws.send(json.dumps({"type": "config", "voice": "af_heart", "speed": 9}))
        assert json.loads(ws.recv())["error"]["param"] == "speed"
        ws.send("not json")
        assert json.loads(ws.recv())["type"] == "error"
        ws.send(json.dumps({"type": "config", "voice": "af_heart"}))
        ws.send(json.dumps({"type": "text", "text": "Hi there. "}))
        assert isinstance(ws.recv(), bytes)
