"""Server behaviour under failure and load: backend errors, a full queue, auth, background loading."""

from __future__ import annotations

import threading

import httpx
import pytest

from kokoro_trt.server import API_KEY_ENV, Settings, create_app
from tests.server_fixtures import FailingModel, GatedModel, live_server

BODY = {"model": "kokoro", "input": "Resilience check.", "response_format": "pcm"}


def post(url: str, headers: dict | None = None, **body) -> httpx.Response:
    return httpx.post(f"{url}/v1/audio/speech", json={**BODY, **body}, headers=headers, timeout=120)


@pytest.mark.parametrize("stream", [False, True])
def test_a_failed_request_does_not_affect_the_next(server_model, stream):
    with live_server(create_app(FailingModel(server_model), Settings(api_key=None))) as url:
        failed = post(url, input="This goes boom.", stream=stream)
        assert failed.status_code == 500
        assert failed.json()["error"] == {
            "message": "inference failed: simulated device failure",
            "type": "server_error",
            "param": None,
            "code": "backend_error",
        }
        assert post(url, stream=stream).status_code == 200
        assert httpx.get(f"{url}/health").json()["queue_depth"] == 0


def test_full_queue_answers_503_with_retry_after(server_model):
    model = GatedModel(server_model)
    with live_server(create_app(model, Settings(api_key=None, queue_size=1, cache_bytes=0))) as url:
        first: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: first.append(post(url)))
        worker.start()
        try:
            assert model.entered.wait(60)
            busy = post(url)
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert busy.json()["error"]["code"] == "queue_full"
            assert "kokoro_queue_depth 1.0" in httpx.get(f"{url}/metrics").text
        finally:
            model.gate.set()
            worker.join(120)
        assert first[0].status_code == 200
        assert post(url).status_code == 200


def test_api_key(server_model, monkeypatch):
    openai = pytest.importorskip("openai")
    with live_server(create_app(server_model, Settings(api_key="s3cret"))) as url:
        assert post(url).status_code == 401
        wrong = post(url, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        assert post(url, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert httpx.get(f"{url}/v1/audio/voices").status_code == 401
        assert httpx.get(f"{url}/health").status_code == 200
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret")
        assert client.audio.speech.create(model="kokoro", voice="af_heart", input="Hi.", response_format="pcm").content
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="bad").models.list()
    monkeypatch.setenv(API_KEY_ENV, "from-env")
    assert Settings().api_key == "from-env"
    monkeypatch.delenv(API_KEY_ENV)
    assert Settings().api_key is None


def test_websocket_needs_the_key_when_auth_is_on(server_model):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with live_server(create_app(server_model, Settings(api_key="s3cret"))) as url:
        ws_url = url.replace("http", "ws") + "/v1/audio/speech/ws"
        with pytest.raises(InvalidStatus), connect(ws_url) as ws:
            ws.recv()
        with connect(ws_url, additional_headers={"Authorization": "Bearer s3cret"}) as ws:
            ws.send('{"type": "end"}')
            assert ws.recv() == '{"type":"done"}'


def test_model_loads_in_the_background(server_model):
    gate = threading.Event()

    def loader():
        assert gate.wait(60)
        return server_model

    with live_server(create_app(loader, Settings(api_key=None))) as url:
        assert httpx.get(f"{url}/health").json()["status"] == "loading"
        loading = post(url)
        assert loading.status_code == 503 and loading.json()["error"]["code"] == "loading"
        gate.set()
        for _ in range(600):
            if httpx.get(f"{url}/health").status_code == 200:
                break
            threading.Event().wait(0.05)
        assert post(url).status_code == 200


def test_a_failed_load_is_reported():
    def loader():
        raise FileNotFoundError("no graphs here")

    with live_server(create_app(loader, Settings(api_key=None, load_attempts=1))) as url:
        for _ in range(600):
            health = httpx.get(f"{url}/health")
            if health.json()["status"] != "loading":
                break
            threading.Event().wait(0.05)
        assert health.status_code == 500 and "no graphs here" in health.json()["error"]
        assert post(url).json()["error"]["code"] == "model_error"


def test_settings_are_checked():
    with pytest.raises(ValueError):
        Settings(queue_size=0)
    with pytest.raises(ValueError):
        Settings(cache_bytes=-1)
