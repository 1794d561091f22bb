"""The deployment files pass scripts/validate_deploy.sh: Helm lint and render of every
preset with Helm's own engine, Kubernetes schema validation, checkov, shellcheck.

Select with `pytest -m deploy`; skip with `-m "not deploy"`. The first run creates
.venv-helm (Python 3.12 from pyenv or PATH); without one the test is skipped, not failed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "validate_deploy.sh"


def _python312_available() -> bool:
    candidates = [
        os.environ.get("PYTHON312", ""),
        "python3.12",
        str(Path.home() / ".pyenv/versions/3.12.1/bin/python"),
    ]
    if (ROOT / ".venv-helm" / "bin" / "python").exists():
        return True
    return any(c and (shutil.which(c) or Path(c).exists()) for c in candidates)


@pytest.mark.deploy
@pytest.mark.timeout(900)
def test_validate_deploy(tmp_path: Path) -> None:
    if not _python312_available():
        pytest.skip("validate_deploy.sh needs Python >= 3.12 for helm-sdkpy")
    env = {**os.environ, "DEPLOY_ARTIFACTS": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=880
    )
    output = proc.stdout + proc.stderr
    sys.stdout.write(output[-6000:])
    assert proc.returncode == 0, output[-6000:]
    summary = next(
        json.loads(line)
        for line in reversed(proc.stdout.splitlines())
        if line.startswith("{") and '"kubernetes_validate_ok"' in line
    )
    assert summary["ok"] and summary["failures"] == 0
    assert summary["scenarios"] >= 4 and summary["rendered_manifests"] > 100
    assert summary["kubernetes_validate_ok"] > 0
    # the checks on the rules the chart enforces ran, not only passed vacuously
    assert summary["render_refusals_ok"] == summary["refusal_scenarios"] >= 3
    assert summary["blob_store_checked"] >= 3 and summary["vllm_image_checked"] >= 3
    assert summary["keda_database_policy_checked"] >= 1 and summary["ui_checked"] >= 3
    rendered = sorted(p.name for p in (tmp_path / "rendered").glob("*.yaml"))
    assert {"cpu.yaml", "gpu.yaml", "production.yaml"} <= set(rendered)
