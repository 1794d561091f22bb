"""`inkshadow up`: one process answers the API and runs submitted jobs on the same engine,
with the embedded defaults (SQLite migrated on start, in-memory cache, local media)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from inkshadow.families import Family
from tests.api.media_payloads import mp4_data_url
from tests.conftest import ServerProcess, free_port, stop_server, tiny_model, wait_for_ready


def test_up_serves_and_runs_jobs(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "up.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "INKSHADOW_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "inkshadow.cli", "up", "--no-ui", "--port", str(port),
         "--model", str(tiny_model(Family.QWEN2_5_VL))],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    server = ServerProcess(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_for_ready(server)
        chat = httpx.post(
            server.url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3},
            timeout=60,
        )
        assert chat.status_code == 200
        job = httpx.post(
            server.url + "/v1/jobs",
            json={"video": mp4_data_url(tmp_path, frames=60), "task": "temporal", "query": "box"},
            timeout=60,
        )
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        deadline = time.monotonic() + 180
        while True:
            status = httpx.get(f"{server.url}/v1/jobs/{job_id}").json()
            if status["status"] in {"succeeded", "failed", "cancelled"}:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.3)
        assert status["status"] == "succeeded", status
        result = httpx.get(f"{server.url}/v1/jobs/{job_id}/result").json()
        assert result["task"] == "temporal"
        assert result["video"]["duration"] == 2.0
        for item in result["results"]:
            assert 0 <= item["start"] <= item["end"] <= 2.0
        assert (tmp_path / "data").is_dir()
        # The embedded workers' histograms are on the API's /metrics.
        metrics = httpx.get(server.url + "/metrics").text
        pickups = next(
            x for x in metrics.splitlines() if x.startswith("inkshadow_job_pickup_seconds_count")
        )
        assert float(pickups.split()[-1]) >= 1
    finally:
        stop_server(server)
