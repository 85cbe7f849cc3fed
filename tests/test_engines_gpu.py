"""TensorRT engines and backends on a real GPU: parity with ONNX Runtime CPU, zero copy, no leaks.

Every test is marked ``gpu`` and skips cleanly without TensorRT, cuda-python or a CUDA device.
"""

from __future__ import annotations

import numpy as np
import pytest

from kokoro_trt.errors import BackendUnavailableError, StaleEngineError

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module", params=["tensorrt", "tensorrt-rtx"])
def library(request):
    """Each TensorRT flavour installed here, on a GPU it supports."""
    from kokoro_trt.engines import current_target, load_library

    try:
        lib = load_library(request.param)
        current_target(lib, 0)
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))
    return lib


@pytest.fixture(scope="module")
def gpu(library):
    from kokoro_trt.engines import current_target

    return current_target(library, 0)


@pytest.fixture(scope="module")
def engines(library, tiny_graphs, tmp_path_factory):
    from kokoro_trt.engines import build_engines

    return build_engines(tiny_graphs, tmp_path_factory.mktemp("engines"), library=library.name, progress=False)


@pytest.fixture(scope="module")
def backends(library, engines, tiny_graphs):
    from kokoro_trt import cudart as cuda
    from kokoro_trt.runtime.backends.ort import OnnxRuntimeBackend
    from kokoro_trt.runtime.backends.tensorrt import TensorRTBackend

    trt_backend = TensorRTBackend(engines, library, gpu_name=cuda.device_properties(0)[0])
    yield trt_backend, OnnxRuntimeBackend(tiny_graphs, device="cpu", threads=1)
    trt_backend.close()


def _inputs(tokens: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 170, size=(1, tokens), dtype=np.int64)
    ids[0, 0] = ids[0, -1] = 0
    return ids, (rng.standard_normal((1, 256)) * 0.1).astype(np.float32)


def _render(backend, ids, style, out, offset=0):
    features = backend.durations(ids, style, 1.0)
    frame_index = np.repeat(np.arange(features.durations.shape[0]), features.durations)
    f0, n = backend.prosody(features, frame_index, style)
    noise = np.random.default_rng(1).standard_normal((1, frame_index.shape[0] * 600)).astype(np.float32) * 0.003
    backend.decode(features, frame_index, f0, n, style, noise, out, offset)
    return features.durations, frame_index.shape[0] * 600


def _log_spectral_distance(a: np.ndarray, b: np.ndarray, n_fft: int = 1024, hop: int = 256) -> float:
    def power(x):
        frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
        return np.abs(np.fft.rfft(frames, axis=-1)) ** 2 + 1e-10

    diff = 10 * np.log10(power(a)) - 10 * np.log10(power(b))
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=-1))))


def test_manifests_describe_this_gpu(engines, gpu):
    for manifest in engines.manifests.values():
        assert manifest.target == gpu
        assert manifest.precision == "fp32" and manifest.tf32 is False


def test_rebuild_is_skipped_when_current(library, engines, tiny_graphs):
    from kokoro_trt.engines import build_engines

    again = build_engines(tiny_graphs, engines.directory.parent, library=library.name, progress=False)
    assert again.manifests == engines.manifests


@pytest.mark.parametrize("tokens", [3, 40, 200, 400])
def test_parity_with_onnx_runtime_cpu(backends, tokens):
    from kokoro_trt.runtime.buffers import wrap_output

    trt_backend, cpu = backends
    ids, style = _inputs(tokens)
    ours, theirs = np.zeros(2048 * 600, np.float32), np.zeros(2048 * 600, np.float32)
    durations, samples = _render(trt_backend, ids, style, wrap_output(ours))
    expected, _ = _render(cpu, ids, style, wrap_output(theirs))
    # A token whose running total sits on .5 may round either way on another backend: one frame, moved.
    assert abs(int(durations.sum()) - int(expected.sum())) <= 1
    assert np.abs(durations - expected).max() <= 1 and (durations != expected).sum() <= 2
    if durations.sum() == expected.sum():
        assert _log_spectral_distance(ours[:samples], theirs[:samples]) <= 1.0


def test_decoder_writes_into_the_callers_device_buffer(backends):
    torch = pytest.importorskip("torch")
    from kokoro_trt import cudart as cuda
    from kokoro_trt.runtime.buffers import wrap_output

    trt_backend, _ = backends
    out = torch.zeros(2048 * 600, dtype=torch.float32, device="cuda")
    target = wrap_output(out)
    assert target.ptr == out.data_ptr()
    ids, style = _inputs(60)
    _, samples = _render(trt_backend, ids, style, target, offset=640)  # 2560 bytes: aligned, bound directly
    torch.cuda.synchronize()
    assert torch.count_nonzero(out[:640]) == 0 and torch.count_nonzero(out[640 : 640 + samples]) > 0
    reference = out[640 : 640 + samples].clone()
    out.zero_()
    _render(trt_backend, ids, style, target, offset=601)  # misaligned: decoded aside, copied on the device
    torch.cuda.synchronize()
    assert torch.count_nonzero(out[:601]) == 0
    assert torch.equal(out[601 : 601 + samples], reference)
    before = cuda.memory_in_use()
    for seed in range(20):  # lengths vary; buffers were sized once at load
        _render(trt_backend, *_inputs(10 + 25 * seed, seed), target)
    assert cuda.memory_in_use() == before


def test_planned_ahead_features_are_re_uploaded(backends):
    """Durations for two texts, then rendering the first, matches rendering it straight away."""
    from kokoro_trt.runtime.buffers import wrap_output

    trt_backend, _ = backends
    ids_a, style = _inputs(50, seed=3)
    ids_b, _ = _inputs(90, seed=4)
    direct = np.zeros(2048 * 600, np.float32)
    _render(trt_backend, ids_a, style, wrap_output(direct))
    first = trt_backend.durations(ids_a, style, 1.0)
    trt_backend.durations(ids_b, style, 1.0)  # overwrites the device copies of d / t_en
    frame_index = np.repeat(np.arange(first.durations.shape[0]), first.durations)
    f0, n = trt_backend.prosody(first, frame_index, style)
    noise = np.random.default_rng(1).standard_normal((1, frame_index.shape[0] * 600)).astype(np.float32) * 0.003
    later = np.zeros(2048 * 600, np.float32)
    trt_backend.decode(first, frame_index, f0, n, style, noise, wrap_output(later), 0)
    np.testing.assert_array_equal(direct, later)


def test_foreign_engines_are_refused(engines, tiny_graphs, gpu):
    from dataclasses import replace

    from kokoro_trt.engines import EngineSet

    with pytest.raises(StaleEngineError, match="kokoro-trt build"):
        EngineSet.load(engines.directory, tiny_graphs, replace(gpu, library_version="0.0"))


def test_auto_selects_tensorrt_when_engines_are_built(library, gpu, tiny_graphs, monkeypatch, tmp_path):
    from kokoro_trt.engines import build_engines
    from kokoro_trt.runtime.load import select_backend

    monkeypatch.setenv("KOKORO_TRT_CACHE", str(tmp_path))
    build_engines(tiny_graphs, library=library.name, progress=False)  # into the default folder
    backend = select_backend("auto", tiny_graphs)  # the other flavour has no engines here: skipped
    assert backend.name == library.name
    backend.close()


def test_rtx_engines_built_without_a_gpu_load_here(library, gpu, tiny_graphs, tmp_path):
    """The fleet case: a set cross-built for this GPU's architecture (as on a CPU build box) runs here."""
    from kokoro_trt.engines import build_engines
    from kokoro_trt.runtime.backends.tensorrt import load_tensorrt
    from kokoro_trt.runtime.buffers import wrap_output

    if not library.cross_builds:
        pytest.skip("native TensorRT does not cross-build")
    build_engines(tiny_graphs, tmp_path, library=library.name, arch=gpu.arch, progress=False)
    backend = load_tensorrt(tiny_graphs, library.name, engines=tmp_path)
    try:
        out = np.zeros(2048 * 600, np.float32)
        _, samples = _render(backend, *_inputs(40), wrap_output(out))
        assert np.count_nonzero(out[:samples]) > 0
    finally:
        backend.close()
    from kokoro_trt.assets import cache_dir

    assert list((cache_dir() / "engines" / "runtime").glob("*/*.cache"))  # kernels kept for the next process
