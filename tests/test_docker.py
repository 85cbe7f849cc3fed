"""The Dockerfiles, read statically: what they copy exists, what they run parses, they run as a
non-root user with a health check on a real route and keep models in the volume.

Building the images needs a container engine; docs/server.md says how they were built and run."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from kokoro_trt.cli import _parser
from kokoro_trt.server.info import router

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted((ROOT / "docker").glob("Dockerfile.*"))
PORT = "8880"


def instructions(path: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    lines, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def command_line(stage: list[tuple[str, str]]) -> list[str]:
    """ENTRYPOINT followed by CMD (both in exec form), as the container runs them."""
    found = {op: json.loads(args) for op, args in stage if op in ("ENTRYPOINT", "CMD")}
    return found["ENTRYPOINT"] + found.get("CMD", [])


def serve_arguments(path: Path) -> list[str]:
    """The ``kokoro-trt ...`` arguments the image starts with, through its entry-point script if any."""
    argv = command_line(final_stage(path))
    if argv[0] == "kokoro-trt":
        return argv[1:]
    script = next(
        ROOT / src
        for op, args in final_stage(path)
        if op == "COPY"
        for src, dst in [args.split()[-2:]]
        if dst.endswith(argv[0])
    )
    exec_line = next(line for line in script.read_text().splitlines() if line.strip().startswith("exec "))
    words = shlex.split(exec_line)[1:]
    assert words[0] == "kokoro-trt" and words[-1] == "$@", exec_line
    return words[1:-1] + argv[1:]


@pytest.fixture(params=DOCKERFILES, ids=lambda p: p.name)
def dockerfile(request) -> Path:
    return request.param


def test_there_is_one_for_cpu_and_one_for_gpu():
    assert {p.name for p in DOCKERFILES} == {"Dockerfile.cpu", "Dockerfile.gpu"}


def test_is_multi_stage_and_copies_only_what_exists(dockerfile):
    steps = instructions(dockerfile)
    assert sum(op == "FROM" for op, _ in steps) >= 2
    for op, args in steps:
        if op == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"{dockerfile.name} copies missing {source}"


def test_runs_as_non_root_with_models_in_the_volume(dockerfile):
    stage = final_stage(dockerfile)
    users = [args for op, args in stage if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = " ".join(args for op, args in stage if op == "ENV")
    volumes = [json.loads(args) for op, args in stage if op == "VOLUME"]
    assert volumes == [["/models"]]
    assert "KOKORO_TRT_CACHE=/models/" in env and "HF_HOME=/models/" in env


def test_health_check_hits_the_health_route_on_the_served_port(dockerfile):
    stage = final_stage(dockerfile)
    check = next(args for op, args in stage if op == "HEALTHCHECK")
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", check)
    assert url and url.group(1) == PORT
    assert url.group(2) in {route.path for route in router.routes}
    assert [args for op, args in stage if op == "EXPOSE"] == [PORT]


def test_starts_the_server_with_arguments_the_cli_accepts(dockerfile):
    args = _parser().parse_args(serve_arguments(dockerfile))
    assert args.command == "serve" and args.host == "0.0.0.0" and str(args.port) == PORT
    assert args.device == ("cuda" if dockerfile.name.endswith("gpu") else "cpu")


def test_installs_extras_the_package_defines(dockerfile):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    text = dockerfile.read_text()
    named = re.findall(r"^ARG EXTRAS=([\w,]+)$", text, re.MULTILINE) or re.findall(
        r'pip install "\.\[([\w,]+)\]"', text
    )
    assert named
    for group in named:
        assert set(group.split(",")) <= set(extras), group
    assert "server" in named[0] and "export" in named[0]


def test_gpu_entry_point_builds_engines_then_serves():
    script = ROOT / "docker" / "gpu-entrypoint.sh"
    assert script.stat().st_mode & 0o111, "not executable"
    subprocess.run(["sh", "-n", str(script)], check=True)
    lines = [line.strip() for line in script.read_text().splitlines()]
    build = next(i for i, line in enumerate(lines) if line.startswith("kokoro-trt build"))
    assert build < next(i for i, line in enumerate(lines) if line.startswith("exec kokoro-trt serve"))
    assert _parser().parse_args(shlex.split(lines[build].split("||")[0])[1:]).command == "build"


def test_gpu_library_path_matches_the_python_of_the_base_image():
    text = (ROOT / "docker" / "Dockerfile.gpu").read_text()
    python = re.search(r"^FROM python:(\d+\.\d+)", text, re.MULTILINE).group(1)
    paths = re.search(r"LD_LIBRARY_PATH=(\S+)", text).group(1).split(":")
    assert paths and all(f"/opt/venv/lib/python{python}/site-packages/nvidia/" in p for p in paths)
