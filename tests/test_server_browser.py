"""The preview page in headless Chromium: voices load, ``?say=`` streams captioned audio through WebAudio with
read-along highlighting, and the audio (in the chosen format) and word timings are offered for download."""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.parse

import httpx
import pytest

from kokoro_trt.server import Settings, create_app
from tests.server_fixtures import live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
TEXT = "Hello from the browser. It is 40–60°C."


def dump_dom(url: str, profile) -> str:
    """The page's DOM after its scripts ran (virtual time waits for pending fetches)."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--autoplay-policy=no-user-gesture-required",
        "--virtual-time-budget=60000",
        "--dump-dom",
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True).stdout


def attribute(dom: str, name: str) -> int:
    found = re.search(rf'{name}="(\d+)"', dom)
    assert found is not None, (name, dom[-3000:])
    return int(found[1])


def test_preview_page_reads_along_and_offers_downloads(server_model, tmp_path):
    # the page's own request, made first: the page is then answered from the cache in one piece, as
    # headless Chromium's virtual time does not wait for a response body that is still streaming
    body = {
        "model": "kokoro",
        "input": TEXT,
        "voice": "af_heart",
        "emotion": "neutral",
        "speed": 1,
        "pitch": 0,
        "stream": True,
    }
    with live_server(create_app(server_model, Settings(api_key=None))) as url:
        expected = len(
            httpx.post(f"{url}/v1/audio/speech", json={**body, "response_format": "pcm"}, timeout=120).content
        )
        dom = dump_dom(f"{url}/?{urllib.parse.urlencode({'say': TEXT, 'format': 'flac'})}", tmp_path / "profile")
        flac = httpx.post(f"{url}/v1/audio/speech", json={**body, "response_format": "flac"}, timeout=120).content
    assert 'value="af_heart"' in dom and 'value="rick_c137"' in dom and 'value="excited"' in dom
    assert attribute(dom, "data-samples") == expected // 2
    spans = re.findall(r'<span title="([\d.]+)–([\d.]+) s"[^>]*>([^<]+)</span>', dom)
    words = [word for _, _, word in spans]
    assert any(word.startswith("40–60°C") for word in words)
    assert attribute(dom, "data-words") == len(words)
    # Words light up as the audio clock passes them. Headless Chromium plays audio in real time while
    # the page's other timers run on virtual time, so how far playback got varies: never ahead of it.
    position = float(re.search(r'data-position="(-?[\d.]+)"', dom)[1])
    lit = attribute(dom, "data-highlighted")
    assert lit <= sum(float(start) <= position for start, _, _ in spans)
    if position >= float(spans[0][0]):  # the first word had begun at the last tick
        assert lit >= 1
    audio_link = re.search(r'<a id="download-audio" href="blob:[^"]+" download="speech.flac" data-bytes="(\d+)"', dom)
    assert audio_link is not None and int(audio_link[1]) == len(flac)
    assert re.search(r'<a id="download-words" href="blob:[^"]+" download="speech.words.json"', dom)
