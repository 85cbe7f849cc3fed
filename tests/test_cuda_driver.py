"""Finding the GPU through the NVIDIA driver's own library, without cuda-python or torch."""

from __future__ import annotations

import ctypes
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kokoro_trt.cuda_driver import LIBRARY
from tests.fresh_python import run_python

linux_with_cc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("cc") is None, reason="builds a stand-in libcuda with cc"
)

FAKE_DRIVER = r"""
#include <string.h>
int cuInit(unsigned flags) { return INIT_RESULT; }
int cuDeviceGetCount(int *count) { *count = 1; return 0; }
int cuDeviceGet(int *device, int ordinal) { *device = ordinal + 40; return 0; }
int cuDeviceGetName(char *name, int len, int device) {
    if (device != 40) return 101; /* CUDA_ERROR_INVALID_DEVICE */
    strncpy(name, "NVIDIA GeForce RTX 3060", len); return 0;
}
int cuDeviceGetAttribute(int *value, int attribute, int device) {
    if (device != 40) return 101;
    *value = attribute == 75 ? 8 : attribute == 76 ? 6 : -1; return 0;
}
"""


def _driver_here() -> bool:
    try:
        ctypes.CDLL(LIBRARY)
    except OSError:
        return False
    return True


def _ask(folder: Path, code: str) -> str:
    """``code``'s output in a fresh interpreter whose ``libcuda.so.1`` is the one in ``folder``."""
    return run_python(code, env={"LD_LIBRARY_PATH": str(folder)}, timeout=120)


def _fake_driver(folder: Path, init_result: int) -> Path:
    source = folder / "fake_cuda.c"
    source.write_text(FAKE_DRIVER)
    subprocess.run(
        ["cc", "-shared", "-fPIC", f"-DINIT_RESULT={init_result}", "-o", str(folder / "libcuda.so.1"), str(source)],
        check=True,
    )
    return folder


@linux_with_cc
def test_the_driver_names_the_device_and_its_compute_capability(tmp_path: Path) -> None:
    out = _ask(
        _fake_driver(tmp_path, init_result=0),
        """
        from kokoro_trt.cuda_driver import device_properties
        from kokoro_trt.errors import BackendUnavailableError
        print(device_properties(0))
        try:
            device_properties(1)
        except BackendUnavailableError as e:
            print(e)
        """,
    )
    assert out.splitlines() == ["('NVIDIA GeForce RTX 3060', '8.6')", "no CUDA device 1 (the driver sees 1)"]


@linux_with_cc
def test_a_driver_without_a_gpu_says_so(tmp_path: Path) -> None:
    out = _ask(
        _fake_driver(tmp_path, init_result=100),  # CUDA_ERROR_NO_DEVICE
        """
        from kokoro_trt.engines.device import gpu_properties
        from kokoro_trt.errors import BackendUnavailableError
        try:
            gpu_properties(0)
        except BackendUnavailableError as e:
            print(e)
        """,
    )
    assert out == "no CUDA device (the NVIDIA driver found none)"


@pytest.mark.skipif(_driver_here(), reason="this machine has an NVIDIA driver")
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="only matters where torch is installed")
def test_auto_without_a_gpu_falls_back_to_the_cpu_without_importing_torch(tiny_graphs, voices_dir) -> None:
    """``load_kokoro("auto")`` asks each installed TensorRT library's GPU; without cuda-python that used to
    import torch (~2 s, ~250 MB) on every load of a machine with no GPU."""
    out = _ask(
        Path("/nonexistent"),
        f"""
        import sys
        from kokoro_trt.engines.library import LIBRARIES, load_library
        from kokoro_trt.errors import BackendUnavailableError
        from kokoro_trt.runtime import load_kokoro
        model = load_kokoro("auto", graphs={str(tiny_graphs.directory)!r}, voices_dir={str(voices_dir)!r})
        print(model.backend_name, "torch" in sys.modules)
        for name in LIBRARIES:  # after the load, so that these imports cannot hide what the load imported
            try:
                load_library(name)
                print("a TensorRT library is installed")
                break
            except BackendUnavailableError:
                pass
        """,
    )
    lines = out.splitlines()
    if lines[-1] != "a TensorRT library is installed":
        pytest.skip("no TensorRT library here: nothing asks for the GPU")
    assert lines[-2] == "onnxruntime-cpu False"
