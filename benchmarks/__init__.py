"""kokoro-trt's benchmarks (pytest-benchmark); run them with ``python -m pytest benchmarks``."""
