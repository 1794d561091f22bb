#!/usr/bin/env bash
# End-to-end smoke test on a local kind cluster, for machines with Docker:
# builds the CPU image, installs the chart with the CPU preset (a random-weight tiny model:
# answers are noise, the test proves the wiring) and sends requests through the gateway.
#
#   scripts/kind-e2e.sh                  # create cluster, build, install, test, delete cluster
#   KEEP_CLUSTER=1 scripts/kind-e2e.sh   # leave the cluster running afterwards
#
# Needs: docker, kind, kubectl, helm (v3.8+ or v4), curl.
set -euo pipefail

cluster="${CLUSTER:-inkshadow-e2e}"
namespace="${NAMESPACE:-inkshadow}"
release="${RELEASE:-ink}"
image="inkshadow:dev"
local_port="${LOCAL_PORT:-18080}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chart="$repo/deploy/helm/inkshadow"

log() { printf '[kind-e2e] %s\n' "$*"; }
for tool in docker kind kubectl helm curl; do
    command -v "$tool" >/dev/null 2>&1 || { log "missing: $tool"; exit 2; }
done

pf_pid=""
cleanup() {
    if [ -n "$pf_pid" ]; then kill "$pf_pid" 2>/dev/null || true; fi
    if [ "${KEEP_CLUSTER:-0}" != 1 ]; then kind delete cluster --name "$cluster" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

diagnose() {
    log "diagnosis:"
    kubectl -n "$namespace" get pods -o wide || true
    kubectl -n "$namespace" get events --sort-by=.lastTimestamp | tail -n 30 || true
    for deploy in api worker gateway; do
        kubectl -n "$namespace" logs "deploy/$release-inkshadow-$deploy" --all-containers --tail=40 || true
    done
}

if ! kind get clusters | grep -qx "$cluster"; then
    log "creating kind cluster $cluster"
    kind create cluster --name "$cluster" --wait 120s
fi
kubectl config use-context "kind-$cluster" >/dev/null

log "building $image"
docker build -f "$repo/deploy/docker/Dockerfile" -t "$image" "$repo"
kind load docker-image "$image" --name "$cluster"

log "installing the chart (CPU preset)"
helm upgrade --install "$release" "$chart" \
    --namespace "$namespace" --create-namespace \
    -f "$chart/values-cpu.yaml" \
    --set image.repository=inkshadow --set image.tag=dev --set image.pullPolicy=Never

for deploy in api worker gateway; do
    if ! kubectl -n "$namespace" rollout status "deploy/$release-inkshadow-$deploy" --timeout=600s; then
        diagnose
        exit 1
    fi
done
kubectl -n "$namespace" rollout status "deploy/$release-inkshadow-ui" --timeout=300s \
    || log "warning: the UI did not become ready (the API test goes on)"

log "port-forwarding the gateway to localhost:$local_port"
kubectl -n "$namespace" port-forward "svc/$release-inkshadow-gateway" "$local_port:8080" >/dev/null 2>&1 &
pf_pid=$!
base="http://127.0.0.1:$local_port"
for _ in $(seq 1 60); do
    if curl -fsS "$base/ready" >/dev/null 2>&1; then break; fi
    sleep 2
done
curl -fsS "$base/ready" >/dev/null || { log "gateway never turned ready"; diagnose; exit 1; }

log "GET /v1/models"
models="$(curl -fsS "$base/v1/models")"
printf '%s\n' "$models"
model="$(printf '%s' "$models" | sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p' | head -n 1)"
[ -n "$model" ] || { log "no model listed"; exit 1; }

log "POST /v1/chat/completions through the gateway"
reply="$(curl -fsS "$base/v1/chat/completions" -H 'content-type: application/json' \
    -d "{\"model\": \"$model\", \"max_tokens\": 8,
         \"messages\": [{\"role\": \"user\", \"content\": \"Say hello\"}]}")"
printf '%s\n' "$reply"
case "$reply" in
    *'"choices"'*'"usage"'*) ;;
    *) log "unexpected reply"; diagnose; exit 1 ;;
esac

log "gateway metrics"
curl -fsS "$base/metrics" | grep -m 3 '^inkshadow_gateway_requests_total' || { log "no gateway metrics"; exit 1; }

log "smoke test passed (the tiny model's words are noise by design)"
