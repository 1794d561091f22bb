"""`inkshadow frames` and `inkshadow analyze`, run as a user runs them: the real command
(typer's runner in process, or a real server on loopback for --server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inkshadow.cli import app
from inkshadow.families import Family
from inkshadow.media.sampling import SamplingRequest, plan_sampling
from inkshadow.media.video import probe_video
from tests.conftest import ServerProcess, free_port, stop_server, tiny_model, wait_for_ready
from tests.media.videos import make_video, read_frame_number

W, H, FPS = 320, 240, 24
NOISE = "random-weight"
# Short chunks so a 10 s video is several chunks (progress, merge); small answers.
CHUNKED = {
    "INKSHADOW_CHUNK_SECONDS": "4",
    "INKSHADOW_CHUNK_OVERLAP_S": "1",
    "INKSHADOW_CHUNK_MAX_FRAMES": "4",
    "INKSHADOW_DEFAULT_MAX_TOKENS": "48",
    "INKSHADOW_MAX_MODEL_LEN": "2048",
    "INKSHADOW_EXACT_RESIZE": "false",
    "HF_HUB_OFFLINE": "1",
}


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-video")
    return make_video(root / "v.mp4", frames=240, fps=FPS, width=W, height=H, gop=48)


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(app, list(args), env=env)
    return result


@pytest.mark.parametrize("family", [Family.QWEN2_5_VL, Family.QWEN3_VL])
def test_frames_writes_exactly_what_the_model_sees(
    video: Path, tmp_path: Path, family: Family
) -> None:
    out = tmp_path / "frames"
    got = run("frames", str(video), "--family", family.value, "--fps", "1.5",
              "--start", "1", "--end", "8.5", "--out", str(out))  # fmt: skip
    assert got.exit_code == 0, got.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["video"] == {"duration": 10.0, "fps": 24.0, "width": W, "height": H,
                                 "frames": 240}  # fmt: skip
    plan = plan_sampling(probe_video(video), SamplingRequest(family, fps=1.5, start=1, end=8.5))
    assert [f["index"] for f in manifest["frames"]] == list(plan.indices)
    assert (manifest["width"], manifest["height"]) == (plan.width, plan.height)
    assert manifest["width"] % family.patch_factor == 0
    for frame in manifest["frames"]:
        assert frame["time"] == pytest.approx(frame["index"] / FPS, abs=1e-6)
        image = np.asarray(Image.open(out / frame["file"]))
        assert image.shape == (plan.height, plan.width, 3)
        # Each generated frame carries its own number: the PNG is that source frame.
        assert read_frame_number(image, W, H) == frame["index"]


def test_frames_refuses_bad_input_plainly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 4096)
    got = run("frames", str(junk), "--out", str(tmp_path / "o"))
    assert got.exit_code == 2
    assert "error:" in got.output and "Traceback" not in got.output
    got = run("frames", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o"))
    assert got.exit_code == 2


def check_analysis(result: dict[str, Any], task: str) -> None:
    assert result["task"] == task
    assert any(w.startswith(NOISE) for w in result["warnings"])
    assert result["video"] == {"duration": 10.0, "fps": 24.0, "width": W, "height": H}
    for item in result["results"]:
        for key in ("start", "end", "time"):
            if item.get(key) is not None:
                assert 0 <= item[key] <= 10.0
        if "bbox" in item:
            x1, y1, x2, y2 = item["bbox"]
            assert 0 <= x1 <= x2 <= W and 0 <= y1 <= y2 <= H


def test_analyze_in_process_json_pretty_and_preview(video: Path, tmp_path: Path) -> None:
    model = str(tiny_model(Family.QWEN3_VL))
    got = run("analyze", str(video), "the white square", "--task", "track", "--model", model,
              env=CHUNKED)  # fmt: skip
    assert got.exit_code == 0, got.output
    result = json.loads(got.stdout)
    check_analysis(result, "track")
    assert len(result["extra"]["chunks"]) == 3  # 10 s in 4 s chunks overlapping by 1 s
    preview = tmp_path / "p.png"
    got = run("analyze", str(video), "square", "--task", "temporal", "--model", model,
              "--pretty", "--preview", str(preview), env=CHUNKED)  # fmt: skip
    assert got.exit_code == 0, got.output
    assert "warning: random-weight" in got.stdout and not got.stdout.lstrip().startswith("{")
    with Image.open(preview) as picture:
        assert picture.width >= 320 and picture.height > 100


def test_analyze_needs_a_model_or_a_server(video: Path) -> None:
    got = run("analyze", str(video), "x", env={"INKSHADOW_MODEL": ""})
    assert got.exit_code == 2 and "no model" in got.output
    got = run("analyze", str(video), "x", "--task", "dance")
    assert got.exit_code == 2 and "unknown task" in got.output


@pytest.fixture(scope="module")
def up_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`inkshadow up`: the API with job workers, so --server can follow a job."""
    root = tmp_path_factory.mktemp("cli-up")
    port = free_port()
    log = root / "up.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "inkshadow.cli", "up", "--no-ui", "--port", str(port),
         "--model", str(tiny_model(Family.QWEN2_5_VL))],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
        env={**os.environ, **CHUNKED, "INKSHADOW_DATA_DIR": str(root / "data")},
    )  # fmt: skip
    server = ServerProcess(f"http://127.0.0.1:{port}", proc, log)
    wait_for_ready(server)
    yield server
    stop_server(server)


def test_analyze_against_a_server_at_once_and_as_a_job(
    video: Path, up_server: ServerProcess
) -> None:
    env = {"INKSHADOW_CHUNK_SECONDS": "4"}  # the client's rule for "long": a job
    got = run("analyze", str(video), "square", "--task", "spatial", "--server", up_server.url,
              "--no-job", env=env)  # fmt: skip
    assert got.exit_code == 0, got.output
    check_analysis(json.loads(got.stdout), "spatial")
    assert "submitted" not in got.output
    got = run("analyze", str(video), "square", "--task", "describe", "--server", up_server.url,
              env=env)  # fmt: skip
    assert got.exit_code == 0, got.output
    result = json.loads(got.stdout)
    check_analysis(result, "describe")
    assert "job job_" in got.stderr and len(result["extra"]["chunks"]) == 3


def test_server_refusals_come_back_as_plain_messages(video: Path, up_server: ServerProcess) -> None:
    got = run("analyze", str(video), "x", "--server", up_server.url, "--start", "60", "--no-job")
    assert got.exit_code == 2
    assert "past the end of the video" in got.output and "Traceback" not in got.output
    got = run("analyze", "file-" + "0" * 64, "x", "--server", up_server.url)
    assert got.exit_code == 2 and "no file with id" in got.output
