#!/usr/bin/env bash
# Build one image without a Docker engine (buildah, chroot isolation), start it as its own user with
# its own entry point and check /health and one /v1/audio/speech request. Run as root from the
# repository root; needs Debian's buildah, debootstrap and curl.
#   docker/verify-with-buildah.sh cpu|gpu [folder of wheels for pip, e.g. a CPU torch wheel]
# Where python:3.11-slim-bookworm cannot be pulled, a Debian bookworm root with Python 3.11 stands in
# for it (same Debian release and Python minor version), trusting this machine's CA certificates.
# Without a GPU the gpu image's engine build fails cleanly and it serves on the CPU (--device auto).
set -euo pipefail
flavour=${1:?usage: $0 cpu|gpu [wheel folder]}
wheels=${2:-}
base=python:3.11-slim-bookworm
port=8880  # the images' port; the check only talks to 127.0.0.1
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
work=$(mktemp -d)

if ! buildah inspect --type image "$base" >/dev/null 2>&1 && ! buildah pull -q "docker.io/library/$base" >/dev/null 2>&1; then
    echo "building a stand-in for $base" >&2
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$work/root" >/dev/null
    ln -s /usr/bin/python3 "$work/root/usr/local/bin/python"
    cp /etc/ssl/certs/ca-certificates.crt "$work/root/etc/ssl/certs/ca-certificates.crt"
    ctr=$(buildah from scratch)
    cp -a "$work/root/." "$(buildah mount "$ctr")/"
    buildah config --env PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt --cmd python "$ctr"
    buildah commit -q "$ctr" "$base" >/dev/null
    buildah rm "$ctr" >/dev/null
fi

build_args=()
if [ -n "$wheels" ]; then
    build_args=(-v "$(realpath "$wheels"):/wheels:ro" --build-arg PIP_FIND_LINKS=/wheels --build-arg PIP_EXTRA_INDEX_URL=)
fi
time buildah bud --format docker --isolation chroot --layers=false "${build_args[@]}" \
    -f "docker/Dockerfile.$flavour" -t "kokoro-trt:$flavour" .

ctr=$(buildah from "kokoro-trt:$flavour")
user=$(buildah inspect --format '{{.OCIv1.Config.User}}' "$ctr")
mapfile -t entrypoint < <(buildah inspect --format '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}' "$ctr")
# The image's own entry point; the gpu image gets --device auto, as there may be no GPU here.
device=$([ "$flavour" = gpu ] && echo auto || echo cpu)
buildah run --isolation chroot --user "$user" "$ctr" -- "${entrypoint[@]}" --device "$device" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; pkill -f "kokoro-trt serve --host 0.0.0.0 --port $port" 2>/dev/null; buildah rm "$ctr" >/dev/null; rm -rf "$work"' EXIT

started=$(date +%s)
until [ "$(curl -s -o "$work/health" -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ]; do
    if ! kill -0 $server 2>/dev/null || grep -q '"status":"error"' "$work/health" 2>/dev/null; then
        cat "$work/server.log" "$work/health"
        exit 1
    fi
    [ $(($(date +%s) - started)) -lt 900 ] || { cat "$work/server.log"; exit 1; }
    sleep 2
done
echo "healthy after $(($(date +%s) - started)) s (first start: export included)"
curl -sf -o "$work/speech.wav" -w 'speech: HTTP %{http_code}, %{content_type}, %{size_download} bytes\n' \
    "http://127.0.0.1:$port/v1/audio/speech" -H 'Content-Type: application/json' \
    -d '{"model": "kokoro", "input": "Hello from the container.", "voice": "af_heart", "response_format": "wav"}'
grep -E "WARNING|error|using" "$work/server.log" | cut -c1-240 || true
