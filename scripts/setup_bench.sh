#!/usr/bin/env bash
# The frame-sampling benchmark's environment (.venv-bench): our package beside the peers it
# is compared with, qwen-vl-utils and its decoders (decord, torchcodec CPU). Kept out of the
# main venv because transformers would pick torchcodec up for its own video decoding.
# Idempotent.
#
#   scripts/setup_bench.sh        # -> .venv-bench
# Why each step (see the machine notes, "Video decoding"):
# - torch==2.13.0 first: the CPU wheel; anything unpinned pulls GBs of CUDA packages.
# - torchcodec 0.13.0 is the last CPU build on PyPI and links the system FFmpeg libraries.
# - decord 0.6.0 ships its own FFmpeg.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BENCH_VENV:-$repo/.venv-bench}"
python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3
log() { printf '[setup-bench] %s\n' "$*"; }

if ! ldconfig -p 2>/dev/null | grep -q libavcodec; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "installing FFmpeg libraries for torchcodec"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
    else
        log "torchcodec needs FFmpeg's libraries: install ffmpeg with your package manager"
    fi
fi

stamp="$venv/.inkshadow-bench"
want="$(cat "$0" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "up to date: $venv"
    exit 0
fi
[ -x "$venv/bin/python" ] || "$python_bin" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install --upgrade pip
"${pip[@]}" install torch==2.13.0
"${pip[@]}" install -c scripts/constraints-cpu.txt -e "." torchvision qwen-vl-utils==0.0.14 \
    decord==0.6.0 torchcodec==0.13.0
"$venv/bin/python" scripts/install_torchvision_shim.py
"$venv/bin/python" -c "import decord, torchcodec.decoders, qwen_vl_utils, inkshadow"
echo "$want" > "$stamp"
log "ready: $venv"
