"""``kokoro-trt serve --ray`` and ``serve run ...:build``: flags and args to Serve's deployment options
(no Ray cluster; ``test_ray_serve.py`` runs one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="needs the ray extra: pip install -e '.[ray]'")

from kokoro_trt.cli import main
from kokoro_trt.server import Settings, ray_serve
from kokoro_trt.server.ray_serve import RayOptions


def test_neither_the_package_nor_the_plain_server_imports_ray():
    code = "import sys, kokoro_trt, kokoro_trt.server, kokoro_trt.cli; print('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_serve_ray_passes_the_same_settings_and_the_replica_options(monkeypatch):
    calls: list[tuple[Settings, RayOptions]] = []
    monkeypatch.setattr(ray_serve, "run", lambda settings, options: calls.append((settings, options)))
    argv = ["serve", "--ray", "--replicas", "3", "--threads", "2", "--port", "9000", "--api-key", "k", "--workers", "1"]
    assert main(argv) == 0
    ((settings, options),) = calls
    assert (settings.port, settings.api_key, settings.workers) == (9000, "k", 1)
    assert options == RayOptions(replicas=3, threads=2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--replicas", "2"], "--replicas needs --ray"),
        (["--ray", "--min-replicas", "2"], "min_replicas needs max_replicas"),
        (["--ray", "--downscale-delay-s", "5"], "downscale_delay_s needs max_replicas"),
        (["--ray", "--max-replicas", "2", "--upscale-delay-s", "-1"], "upscale_delay_s"),
        (["--ray", "--replicas", "5", "--max-replicas", "4"], "replicas must lie in 1..4, got 5"),
        (["--ray", "--workers", "0"], "serve setting workers:"),
    ],
)
def test_bad_ray_flags_fail_in_one_line(monkeypatch, capsys, argv, message):
    monkeypatch.setattr(ray_serve, "run", lambda *_: pytest.fail("ran despite a bad flag"))
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kokoro-trt: error:") and message in err and "Traceback" not in err


def test_a_fixed_count_of_cpu_replicas_each_admitting_the_queue_size():
    options = RayOptions(replicas=2, threads=3).deployment_options(Settings(device="cpu", queue_size=5))
    assert options == {
        "num_replicas": 2,
        "max_ongoing_requests": 5,
        "max_queued_requests": 5,
        "ray_actor_options": {"num_cpus": 3, "num_gpus": 0.0},
    }


def test_a_cuda_replica_holds_one_gpu_unless_told_otherwise():
    cuda = Settings(device="cuda:0")
    assert RayOptions().deployment_options(cuda)["ray_actor_options"]["num_gpus"] == 1.0
    assert RayOptions(gpus=0.5).deployment_options(cuda)["ray_actor_options"]["num_gpus"] == 0.5
    assert RayOptions().deployment_options(Settings(device="auto"))["ray_actor_options"]["num_gpus"] == 0.0


def test_max_replicas_turns_on_autoscaling_on_ongoing_requests():
    options = RayOptions(min_replicas=0, max_replicas=4, target_ongoing_requests=3).deployment_options(Settings())
    assert "num_replicas" not in options
    assert options["autoscaling_config"] == {
        "min_replicas": 0,
        "max_replicas": 4,
        "initial_replicas": 1,
        "target_ongoing_requests": 3.0,
    }
    assert RayOptions(max_replicas=4).deployment_options(Settings())["autoscaling_config"]["min_replicas"] == 1
    assert (
        RayOptions(replicas=2, max_replicas=4).deployment_options(Settings())["autoscaling_config"]["initial_replicas"]
        == 2
    )


def test_autoscaling_delays_reach_serve_only_when_given():
    options = RayOptions(max_replicas=2, upscale_delay_s=5, downscale_delay_s=0).deployment_options(Settings())
    scaling = options["autoscaling_config"]
    assert (scaling["upscale_delay_s"], scaling["downscale_delay_s"]) == (5, 0)
    assert "downscale_delay_s" not in RayOptions(max_replicas=2).deployment_options(Settings())["autoscaling_config"]


def test_every_replica_option_has_a_serve_flag():
    from kokoro_trt.cli import _RAY_OPTIONS

    assert set(RayOptions.model_fields) == set(_RAY_OPTIONS)


def test_serve_run_args_split_into_replica_options_and_settings(monkeypatch):
    monkeypatch.setenv("KOKORO_TRT_QUEUE_SIZE", "7")
    calls: list[tuple[Settings, RayOptions]] = []
    monkeypatch.setattr(ray_serve, "application", lambda settings, options: calls.append((settings, options)))
    ray_serve.build({"replicas": "2", "max_replicas": 3, "device": "cuda", "api_key": "k"})
    ((settings, options),) = calls
    assert options == RayOptions(replicas=2, max_replicas=3)
    assert (settings.device, settings.api_key, settings.queue_size) == ("cuda", "k", 7)


def test_the_kuberay_manifest_deploys_the_builder_with_valid_args(monkeypatch):
    import yaml
    from ray.serve.schema import ServeDeploySchema

    path = Path(__file__).resolve().parents[1] / "deploy" / "kuberay-rayservice.yaml"
    service = next(doc for doc in yaml.safe_load_all(path.read_text()) if doc["kind"] == "RayService")
    config = ServeDeploySchema(**yaml.safe_load(service["spec"]["serveConfigV2"]))
    (app,) = config.applications
    assert app.import_path == "kokoro_trt.server.ray_serve:build"
    calls: list[tuple[Settings, RayOptions]] = []
    monkeypatch.setattr(ray_serve, "application", lambda settings, options: calls.append((settings, options)))
    ray_serve.build(app.args)
    ((settings, options),) = calls
    assert options.deployment_options(settings)["ray_actor_options"]["num_gpus"] == 1.0
