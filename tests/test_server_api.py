"""OpenAI and Kokoro-FastAPI parity over a live server (tiny model): SSE, instructions, speed, models, CORS,
captions, lang_code, volume, normalization options, voice combine, lexicons, truncation and settings."""

from __future__ import annotations

import base64
import dataclasses
import io
import itertools
import json

import httpx
import numpy as np
import pytest
import soundfile as sf

from kokoro_trt.server import Settings, create_app
from kokoro_trt.server.cache import ByteCache
from kokoro_trt.server.encoders import to_pcm16
from kokoro_trt.server.schemas import NormalizationOptions as Body
from kokoro_trt.text import NormalizationOptions
from kokoro_trt.voices.torchfile import load_torch_tensor
from tests.server_fixtures import live_server

TEXT = "It is 40–60°C today. Take water."
ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def app(server_model):
    return create_app(server_model, Settings(api_key=None, cors_origins=(ORIGIN,)))


def pcm(client: httpx.Client, **body) -> httpx.Response:
    response = client.post("/v1/audio/speech", json={"input": TEXT, "response_format": "pcm", **body})
    assert response.status_code == 200, response.text
    return response


def sse_events(lines) -> list[dict]:
    return [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]


def test_sse_with_the_openai_client(url, client):
    openai = pytest.importorskip("openai")
    oai = openai.OpenAI(base_url=f"{url}/v1", api_key="unused")
    with oai.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="coral",
        input=TEXT,
        response_format="pcm",
        stream_format="sse",
        extra_body={"seed": 4, "return_timestamps": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.iter_lines())
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "speech.audio.done" and "speech.audio.delta" in kinds and "speech.audio.timestamps" in kinds
    audio = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    with client.stream(
        "POST",
        "/v1/audio/speech",
        json={"input": TEXT, "voice": "coral", "response_format": "pcm", "seed": 4, "stream": True},
    ) as plain:
        assert audio == b"".join(plain.iter_bytes())
    words = [w for e in events if e["type"] == "speech.audio.timestamps" for w in e["words"]]
    assert "40–60°C" in [w["word"] for w in words]
    done = events[-1]
    assert done["usage"]["output_tokens"] == -(-len(audio) // 2 // 600) and done["usage"]["input_tokens"] == 6
    assert done["usage"]["total_tokens"] == done["usage"]["input_tokens"] + done["usage"]["output_tokens"]
    assert done["truncated"] is False


def test_instructions_name_an_emotion_or_are_ignored_with_a_header(client):
    excited = pcm(client, instructions="Say this in an EXCITED voice, please.")
    assert excited.headers["x-kokoro-instructions"] == "emotion=excited"
    assert excited.content == pcm(client, emotion="excited").content
    whisper = pcm(client, instructions="Whisper it softly.")
    assert whisper.headers["x-kokoro-instructions"].startswith("ignored")
    assert whisper.content == pcm(client).content
    both = pcm(client, emotion="sad", instructions="excited!")
    assert (
        both.headers["x-kokoro-instructions"].startswith("ignored")
        and both.content == pcm(client, emotion="sad").content
    )


def test_openai_speed_range_is_clamped_with_a_header(client):
    fast = pcm(client, speed=4.0)
    assert fast.headers["x-kokoro-speed"].startswith("2 (asked 4")
    assert fast.content == pcm(client, speed=2.0).content
    assert "x-kokoro-speed" not in pcm(client, speed=1.5).headers


def test_models_retrieve(url, client):
    openai = pytest.importorskip("openai")
    assert openai.OpenAI(base_url=f"{url}/v1", api_key="unused").models.retrieve("tts-1").id == "tts-1"
    missing = client.get("/v1/models/whisper-1")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_cors_preflight_allow_list(url, server_model):
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = httpx.options(f"{url}/v1/audio/speech", headers={"Origin": ORIGIN, **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = httpx.options(f"{url}/v1/audio/speech", headers={"Origin": "https://evil.example", **preflight})
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    response = httpx.post(
        f"{url}/v1/audio/speech",
        json={"input": "Hi.", "response_format": "pcm", "speed": 3},
        headers={"Origin": ORIGIN},
        timeout=120,
    )
    assert "x-kokoro-speed" in response.headers["access-control-expose-headers"].lower()
    with live_server(create_app(server_model, Settings(api_key=None))) as off:  # the default: no CORS
        assert httpx.options(f"{off}/v1/audio/speech", headers={"Origin": ORIGIN, **preflight}).status_code == 405


def test_captioned_speech_whole_and_streamed(client, server_model):
    body = {"input": TEXT, "voice": "af_heart", "response_format": "wav", "stream": False}
    whole = client.post("/dev/captioned_speech", json=body).json()
    assert whole["audio_format"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(base64.b64decode(whole["audio"])), dtype="float32")
    speech = server_model.speak(TEXT, "af_heart", max_seconds=None)
    assert np.array_equal(to_pcm16(audio), to_pcm16(speech.audio))
    words = whole["timestamps"]
    assert [w["word"] for w in words] == [w.word for w in speech.words] and "40–60°C" in [w["word"] for w in words]
    spoken = {w["word"]: w["spoken"] for w in words}  # the written word next to what was said for it
    assert spoken["40–60°C"] == "forty to sixty degrees Celsius", spoken
    assert all(a["end_time"] <= b["start_time"] + 1e-6 for a, b in itertools.pairwise(words))
    assert 0 < words[-1]["end_time"] <= len(audio) / rate + 1e-3

    with client.stream("POST", "/dev/captioned_speech", json={**body, "response_format": "pcm", "stream": True}) as r:
        assert r.status_code == 200
        lines = [json.loads(line) for line in r.iter_lines() if line]
    streamed = b"".join(base64.b64decode(line["audio"]) for line in lines)
    assert streamed == b"".join(to_pcm16(c.audio) for c in server_model.stream(TEXT, "af_heart", max_seconds=None))
    assert [w["word"] for line in lines for w in line["timestamps"]] == [w["word"] for w in words]
    plain = client.post("/dev/captioned_speech", json={**body, "return_timestamps": False}).json()
    assert plain["timestamps"] is None


def test_lang_code_picks_the_front_end_for_one_request(client):
    baseline = pcm(client).content
    assert pcm(client, lang_code="a").content == baseline == pcm(client, lang_code="EN-US").content
    british = pcm(client, lang_code="b").content  # the British front-end, for this request only
    assert british != baseline and pcm(client, lang_code="en-gb").content == british
    assert pcm(client).content == baseline
    dora = {"input": "¿Dónde está la biblioteca?", "voice": "ef_dora"}
    spanish = pcm(client, **dora).content  # the voice's language: Spanish
    assert pcm(client, **dora, lang_code="e").content == spanish == pcm(client, **dora, lang_code="es").content
    assert pcm(client, **dora, lang_code="a").content != spanish  # read as English for this request
    unknown = client.post("/v1/audio/speech", json={"input": TEXT, "lang_code": "x" * 5000})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "lang_code"
    assert len(unknown.json()["error"]["message"]) < 400  # the bad value is not echoed whole


def test_volume_multiplier_is_gain_then_clip(client):
    base = np.frombuffer(pcm(client).content, "<i2").astype(np.int32)
    half = np.frombuffer(pcm(client, volume_multiplier=0.5).content, "<i2").astype(np.int32)
    assert np.abs(half - base / 2).max() <= 1
    loud = np.frombuffer(pcm(client, volume_multiplier=100).content, "<i2")
    assert loud.max() == 32767 and loud.min() == -32767


def test_normalization_options_reach_the_front_end(client):
    assert set(Body.model_fields) == {f.name for f in dataclasses.fields(NormalizationOptions)}
    text = "Call 555-123-4567 at 3:30 PM."
    baseline = pcm(client, input=text).content
    assert pcm(client, input=text, normalization_options={"normalize": True}).content == baseline
    assert pcm(client, input=text, normalization_options={"normalize": False}).content != baseline


def test_voice_combine_returns_a_saved_blend(client, server_model, tmp_path):
    response = client.post("/v1/audio/voices/combine", json="af_sarah+af_jessica")
    assert response.status_code == 200 and response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].endswith('.pt"')
    path = tmp_path / "blend.pt"
    path.write_bytes(response.content)
    pack = load_torch_tensor(path)
    assert pack.shape == (510, 1, 256)
    assert np.array_equal(pack[:, 0], server_model.voices.pack("af_sarah+af_jessica"))
    assert client.post("/v1/audio/voices/combine", json=["af_sarah", "af_jessica"]).content == response.content
    voice = response.headers["x-kokoro-voice"]
    assert pcm(client, voice=voice).content == pcm(client, voice="af_sarah+af_jessica").content
    torch = pytest.importorskip("torch")
    assert torch.load(path, weights_only=True).shape == (510, 1, 256)
    unknown = client.post("/v1/audio/voices/combine", json="af_sarah+af_jesica")
    assert unknown.status_code == 400 and "af_jessica" in unknown.json()["error"]["message"]


def test_lexicon_changes_one_request_only(server_model, tmp_path):
    server_lexicon = tmp_path / "lexicon.yaml"
    server_lexicon.write_text("Zorblat: zˈɔɹblæt\n", encoding="utf-8")
    with (
        live_server(create_app(server_model, Settings(api_key=None, lexicon=server_lexicon, cache_bytes=0))) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        text = "Zorblat met Kokoro."
        baseline = pcm(client, input=text).content
        custom = pcm(client, input=text, lexicon={"Kokoro": "mˈaɪkɹəsˌɔft"}).content
        assert custom != baseline
        assert pcm(client, input=text).content == baseline  # the next request is unaffected
        overridden = pcm(client, input=text, lexicon={"Zorblat": "kˈæt"}).content  # request entries win
        assert overridden != baseline
    reference = server_model.speak(text, max_seconds=None, lexicon={"Zorblat": "zˈɔɹblæt"})
    assert baseline == to_pcm16(reference.audio)


def test_truncation_is_visible(server_model):
    settings = Settings(api_key=None, max_audio_seconds=1.5, max_input_chars=200)
    with (
        live_server(create_app(server_model, settings)) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        text = "One sentence here. Another sentence follows it. And a third one ends the text."
        cut = pcm(client, input=text)
        assert cut.headers["x-kokoro-truncated"] == "true"
        kept = int(cut.headers["x-kokoro-words-kept"])
        assert cut.headers["x-kokoro-words-original"] == "14" and 0 < kept < 14
        assert len(cut.content) // 2 <= 1.5 * 24000
        assert pcm(client, input="Short.").headers["x-kokoro-truncated"] == "false"
        with client.stream("POST", "/v1/audio/speech", json={"input": text, "stream_format": "sse"}) as r:
            done = sse_events(r.iter_lines())[-1]
        assert done["truncated"] is True and done["words_kept"] < done["words_original"] == 14
        assert "kokoro_truncated_total 2.0" in client.get("/metrics").text
        long = client.post("/v1/audio/speech", json={"input": "x" * 201})
        assert long.status_code == 400 and "200" in long.json()["error"]["message"]


def test_settings_from_environment_and_arguments(monkeypatch):
    monkeypatch.setenv("KOKORO_TRT_QUEUE_SIZE", "3")
    monkeypatch.setenv("KOKORO_TRT_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("KOKORO_TRT_MAX_AUDIO_SECONDS", "600")
    settings = Settings()
    assert settings.queue_size == 3 and settings.max_audio_seconds == 600
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert Settings(queue_size=5).queue_size == 5  # arguments win
    assert Settings().max_input_chars == 10_000 and Settings().cache_bytes == 64 * 2**20
    monkeypatch.setenv("KOKORO_TRT_WORKERS", "0")
    with pytest.raises(ValueError, match="workers"):
        Settings()


class Blob:
    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes


def test_cache_is_bounded_by_bytes():
    cache: ByteCache[Blob] = ByteCache(800)
    for key in range(10):
        cache.put(key, Blob(100))
    assert cache.nbytes == 800 and len(cache) == 8 and cache.get(0) is None and cache.get(9) is not None
    cache.put("big", Blob(101))  # over an eighth of the budget: not kept
    assert cache.get("big") is None and cache.nbytes == 800
    cache.get(2)  # recently used survives the next eviction
    cache.put("new", Blob(100))
    assert cache.get(2) is not None and cache.get(3) is None
    assert len(ByteCache(0)) == 0 and ByteCache(0).entry_limit == 0
