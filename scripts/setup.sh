#!/usr/bin/env bash
# One-time, idempotent set-up for development, tests and the demo on a machine that has only
# Python: system packages, the project virtual environment (.venv) with CPU torch, and the
# vLLM CPU environment (.venv-vllm) the remote-engine tests serve a tiny model from.
#
#   scripts/setup.sh            # everything
#   scripts/setup.sh --no-vllm  # skip the vLLM environment (demo only)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="${VENV:-$repo/.venv}"
python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3
with_vllm=1
[ "${1:-}" = "--no-vllm" ] && with_vllm=0

log() { printf '[setup] %s\n' "$*"; }

# --- system packages (Debian/Ubuntu): servers and a browser for the test suite -------------
need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || [ -d /usr/lib/postgresql ] || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# Headless Chromium for the web UI tests (Playwright drives it; its own download is not used).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# A CJK font, so the UI's Chinese labels render in the test screenshots (not boxes).
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || need_apt+=(fonts-wqy-microhei)
if [ ${#need_apt[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "installing system packages: ${need_apt[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        log "missing system packages (${need_apt[*]}); install them with your package manager"
    fi
fi

# --- project virtual environment -----------------------------------------------------------
stamp="$venv/.inkshadow-setup"
want="$(cat pyproject.toml scripts/constraints-cpu.txt | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -c "import inkshadow, torch, transformers" 2>/dev/null; then
    log "venv up to date: $venv"
else
    log "creating/updating venv: $venv"
    [ -x "$venv/bin/python" ] || "$python_bin" -m venv "$venv"
    pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
    "${pip[@]}" install --upgrade pip
    # CPU torch first: an unpinned torch resolves to a CUDA build of several GB.
    "${pip[@]}" install -c scripts/constraints-cpu.txt torch
    "${pip[@]}" install -c scripts/constraints-cpu.txt -e ".[engine,dev,postgres,redis,ui,s3]"
    "$venv/bin/python" scripts/install_torchvision_shim.py
    echo "$want" > "$stamp"
fi

if [ "$with_vllm" = 1 ]; then
    "$repo/scripts/setup_vllm.sh"
fi
log "done"
