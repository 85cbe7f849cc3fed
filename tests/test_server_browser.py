"""The preview page in headless Chromium: voices load, and ``?say=`` streams audio through WebAudio."""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.parse

import httpx
import pytest

from kokoro_trt.server import Settings, create_app
from server_fixtures import live_server, server_graphs, server_model  # noqa: F401

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def dump_dom(url: str, profile) -> str:
    """The page's DOM after its scripts ran (virtual time waits for pending fetches)."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        "--autoplay-policy=no-user-gesture-required", "--virtual-time-budget=60000", "--dump-dom", url,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True).stdout


def test_preview_page_loads_voices_and_streams_speech(server_model, tmp_path):  # noqa: F811
    with live_server(create_app(server_model, Settings(api_key=None))) as url:
        dom = dump_dom(f"{url}/?say={urllib.parse.quote('Hello from the browser.')}", tmp_path / "profile")
        body = {"model": "kokoro", "input": "Hello from the browser.", "response_format": "pcm"}
        expected = len(httpx.post(f"{url}/v1/audio/speech", json=body, timeout=120).content) // 2
    assert 'value="af_heart"' in dom and 'value="rick_c137"' in dom and 'value="excited"' in dom
    samples = re.search(r'data-samples="(\d+)"', dom)
    assert samples is not None, dom[-2000:]
    assert int(samples[1]) == expected
