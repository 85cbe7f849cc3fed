#!/bin/sh
# Entry point of the GPU image: compile TensorRT engines into the /models volume unless current ones
# are there (`kokoro-trt build` keeps them), then serve. Without a TensorRT that runs on this GPU the
# build says why and the server uses the next backend (ONNX Runtime CUDA).
# KOKORO_TRT_BUILD_ENGINES=0 skips the build.
set -e
if [ "${KOKORO_TRT_BUILD_ENGINES:-1}" != 0 ]; then
    kokoro-trt build || echo "kokoro-trt-gpu: no TensorRT engines; serving without them" >&2
fi
exec kokoro-trt serve --host 0.0.0.0 --port 8880 "$@"
