"""Validate the Helm chart with real tools only (run by scripts/validate_deploy.sh inside
.venv-helm, Python 3.12):

1. lint with Helm's own Go library, twice: helm-sdkpy (Helm's `lint` action, chart
   defaults) and helm-python-sdk (Helm v4's lint with each preset's values, strict);
2. validate each preset's values against values.schema.json with Helm's schema check;
3. render every preset and scenario with Helm's template engine (helm-python-sdk's offline
   `render`, the code path of `helm template`) into OUT/rendered/<name>.yaml;
4. validate every rendered manifest against the Kubernetes OpenAPI schemas
   (kubernetes-validate, strict) for each version in KUBE_VERSIONS; custom resources
   (ServiceMonitor, ScaledObject, ...) have no schema there and are counted as skipped;
5. check the chart's own promises on the rendered objects (grace periods cover preStop +
   drain, securityContext, resources, no token automount, NetworkPolicy for the database).

Prints a JSON summary as its last line; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = Path(os.environ.get("INKSHADOW_CHART", ROOT / "deploy" / "helm" / "inkshadow"))
KUBE_VERSIONS = ("1.30.0", "1.37.0")
RELEASE, NAMESPACE = "ink", "inkshadow"

# Scenarios beyond the presets, so every template branch is rendered and validated.
SCENARIOS: dict[str, tuple[list[str], dict[str, Any]]] = {
    "default": ([], {}),
    "cpu": (["values-cpu.yaml"], {}),
    "gpu": (["values-gpu.yaml"], {}),
    "production": (["values-production.yaml"], {}),
    # in-process engine on GPUs with the CUDA image, NFS model volume, HPAs and the
    # prometheus-adapter pods metric, Traefik, keys file, bundled DB + KEDA's PostgreSQL trigger
    "inprocess-gpu-all-features": (
        [],
        {
            "inference": {"engine": "inkshadow"},
            "image": {"cuda": {"enabled": True}},
            "model": {"storage": {"type": "nfs", "nfs": {"server": "nfs.example.com"}}},
            "api": {"gpus": 1, "autoscaling": {"enabled": True}, "pdb": {"enabled": True}},
            "worker": {"gpus": 1, "autoscaling": {"enabled": True}},
            "gateway": {"autoscaling": {"enabled": True}},
            "traefik": {"ingressRoute": {"enabled": True, "tlsSecretName": "tls"}},
            "ingress": {"enabled": True, "tlsSecretName": "tls"},
            "auth": {"apiKeys": ["test-key-0123456789"], "keysFile": {"enabled": True}},
            "monitoring": {
                "serviceMonitor": {"enabled": True},
                "prometheusRule": {"enabled": True},
                "grafanaDashboard": {"enabled": True},
                "prometheusAdapter": {"rulesConfigMap": True},
            },
            "redis": {"persistence": {"enabled": True}},
        },
    ),
    "keda-bundled-db-external-engine": (
        [],
        {
            "inference": {"engine": "external", "external": {"url": "http://vllm.example:8000"}},
            "keda": {"enabled": True},
            "auth": {"apiKeys": ["test-key-0123456789"]},
            "ui": {"ingress": {"enabled": True}, "apiKeySecret": {"name": "ui-key"}},
            "data": {"persistence": {"enabled": True}},
            "externalRedis": {"url": "redis://redis.example:6379/0"},
            "redis": {"enabled": False},
        },
    ),
    "external-db-url-sqlite-less": (
        [],
        {
            "postgresql": {"enabled": False},
            "externalDatabase": {"url": "postgresql+psycopg://u:p@db.example:5432/ink"},
            "keda": {"enabled": True},
            "worker": {"enabled": False},
            "ui": {"enabled": False},
            "networkPolicy": {"enabled": False},
            "serviceAccount": {"create": False},
        },
    ),
}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def scenario_values(files: list[str], extra: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in files:  # as `-f a -f b`: later files win
        values = deep_merge(values, yaml.safe_load((CHART / name).read_text()) or {})
    return deep_merge(values, extra)


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.counts: dict[str, int] = {}

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"FAIL {message}", flush=True)


def lint_helm_sdkpy(report: Report) -> None:
    """Helm's lint action through helm-sdkpy (chart defaults; it takes no values)."""
    import helm_sdkpy

    async def run() -> Any:
        return await helm_sdkpy.Lint(helm_sdkpy.Configuration(namespace=NAMESPACE)).run(str(CHART))

    result = asyncio.run(run())
    # helm-sdkpy returns Helm's Go struct as is: {"TotalChartsLinted", "Messages":
    # [{"Severity": 1 info | 2 warning | 3 error, "Path", "Err"}], "Errors"}.
    result = {str(k).lower(): v for k, v in (result or {}).items()}
    messages = [{str(k).lower(): v for k, v in m.items()} for m in result.get("messages") or []]
    bad = [m for m in messages if int(m.get("severity", 0)) >= 2]
    if bad or result.get("errors") or not result.get("totalchartslinted"):
        report.fail(f"helm-sdkpy lint: {json.dumps(result)[:2000]}")
    print(
        f"helm-sdkpy lint (Helm {helm_sdkpy.get_version()}): {len(messages)} messages, "
        f"{len(bad)} warnings or errors",
        flush=True,
    )
    report.count("lint_runs")


def lint_and_render(report: Report, out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    chart = helm_python.Chart.load(str(CHART))
    rendered: dict[str, list[dict[str, Any]]] = {}
    for name, (files, extra) in SCENARIOS.items():
        values = scenario_values(files, extra)
        lint = helm_python.lint(
            str(CHART), values, strict=True, namespace=NAMESPACE, kube_version="v1.30.0"
        )
        report.count("lint_runs")
        for message in lint.get("messages", []):
            if message.get("severity", 0) >= 2:  # warning or error (strict)
                report.fail(f"lint {name}: {message.get('path')}: {message.get('error')}")
        for error in lint.get("errors", []):
            report.fail(f"lint {name}: {error}")
        try:
            chart.validate_schema(values)
        except helm_python.HelmError as exc:
            report.fail(f"schema {name}: {exc}")
            continue
        try:
            files_out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
        except helm_python.HelmError as exc:
            report.fail(f"render {name}: {exc}")
            continue
        docs: list[dict[str, Any]] = []
        text: list[str] = []
        for path in sorted(files_out):
            if path.endswith("NOTES.txt") or not files_out[path].strip():
                continue
            text.append(f"---\n# Source: {path}\n{files_out[path].strip()}\n")
            try:
                docs.extend(d for d in yaml.safe_load_all(files_out[path]) if d)
            except yaml.YAMLError as exc:
                report.fail(f"render {name}: {path} is not valid YAML: {exc}")
        (out_dir / f"{name}.yaml").write_text("".join(text))
        rendered[name] = docs
        report.count("rendered_manifests", len(docs))
        print(f"rendered {name}: {len(docs)} objects", flush=True)
    return rendered


def validate_schemas(report: Report, rendered: dict[str, list[dict[str, Any]]]) -> None:
    for name, docs in rendered.items():
        for doc in docs:
            ident = f"{name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            for version in KUBE_VERSIONS:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                    report.count("kubernetes_validate_ok")
                except kubernetes_validate.SchemaNotFoundError:
                    report.count("kubernetes_validate_skipped_crd")
                except kubernetes_validate.ValidationError as exc:
                    report.fail(
                        f"kubernetes-validate {version} {ident}: {exc.message} at "
                        f"{'/'.join(str(p) for p in exc.path)}"
                    )
                except kubernetes_validate.InvalidSchemaError as exc:
                    report.fail(f"kubernetes-validate {version} {ident}: {exc}")


def pod_specs(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc.get("kind") in {"Deployment", "StatefulSet"}:
        return doc["spec"]["template"]["spec"]
    return None


def check_promises(report: Report, rendered: dict[str, list[dict[str, Any]]]) -> None:
    for name, docs in rendered.items():
        values = scenario_values(*SCENARIOS[name])
        kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
        for doc in docs:
            spec = pod_specs(doc)
            if spec is None:
                continue
            ident = f"{name}: {doc['kind']}/{doc['metadata']['name']}"
            if spec.get("automountServiceAccountToken") is not False:
                report.fail(f"{ident}: service account token is mounted")
            if not spec.get("securityContext", {}).get("runAsNonRoot"):
                report.fail(f"{ident}: pod may run as root")
            volumes = {v["name"] for v in spec.get("volumes", [])} | {
                t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])
            }
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                for mount in container.get("volumeMounts", []):
                    if mount["name"] not in volumes:
                        report.fail(
                            f"{ident}/{container['name']}: mounts missing volume {mount['name']}"
                        )
                sc = container.get("securityContext", {})
                if sc.get("allowPrivilegeEscalation") is not False or sc.get(
                    "capabilities", {}
                ).get("drop") != ["ALL"]:
                    report.fail(f"{ident}/{container['name']}: capabilities not dropped")
                if not sc.get("readOnlyRootFilesystem"):
                    report.fail(f"{ident}/{container['name']}: writable root filesystem")
                res = container.get("resources", {})
                if not res.get("requests") or not res.get("limits"):
                    report.fail(f"{ident}/{container['name']}: requests/limits missing")
                pre = container.get("lifecycle", {}).get("preStop", {}).get("sleep")
                if pre is not None:
                    drain = float(
                        next(
                            (
                                e["value"]
                                for e in container.get("env", [])
                                if e["name"] == "INKSHADOW_DRAIN_GRACE_S"
                            ),
                            0,
                        )
                    )
                    grace = spec.get("terminationGracePeriodSeconds", 30)
                    if grace < pre["seconds"] + drain + 5:
                        report.fail(
                            f"{ident}: terminationGracePeriodSeconds {grace} < preStop "
                            f"{pre['seconds']} + drain {drain} + 5"
                        )
            report.count("promise_checked_workloads")
        np_on = values.get("networkPolicy", {}).get("enabled", True)
        if np_on and values.get("postgresql", {}).get("enabled", True):
            pol = next(
                (
                    d
                    for d in docs
                    if d["kind"] == "NetworkPolicy"
                    and d["metadata"]["name"].endswith("-postgresql")
                ),
                None,
            )
            allowed = sorted(
                p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                for rule in (pol or {}).get("spec", {}).get("ingress", [])
                for p in rule.get("from", [])
            )
            if allowed != ["api", "worker"]:
                report.fail(f"{name}: database reachable from {allowed}, want api and worker")
        if ("Ingress", f"{RELEASE}-inkshadow-gateway") in kinds:
            ing = next(
                d
                for d in docs
                if d["kind"] == "Ingress"
                and d["metadata"]["name"] == f"{RELEASE}-inkshadow-gateway"
            )
            backends = {
                p["backend"]["service"]["name"]
                for r in ing["spec"]["rules"]
                for p in r["http"]["paths"]
            }
            if backends != {f"{RELEASE}-inkshadow-gateway"}:
                report.fail(f"{name}: ingress reaches {backends}, not only the gateway")
            body = (
                ing["metadata"]
                .get("annotations", {})
                .get("nginx.ingress.kubernetes.io/proxy-body-size")
            )
            if body != "100m":
                report.fail(f"{name}: ingress body size {body}, want 100m")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "deploy")
    args = parser.parse_args()
    out_dir = args.out / "rendered"
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.yaml"):
        old.unlink()
    report = Report()
    print(f"Helm engine (helm-python-sdk): {helm_python.helm_sdk_version()}", flush=True)
    lint_helm_sdkpy(report)
    rendered = lint_and_render(report, out_dir)
    validate_schemas(report, rendered)
    check_promises(report, rendered)
    summary = {
        "ok": not report.failures,
        "failures": len(report.failures),
        **report.counts,
        "scenarios": len(SCENARIOS),
        "kube_versions": list(KUBE_VERSIONS),
    }
    print(json.dumps(summary), flush=True)
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(main())
