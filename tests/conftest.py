"""Fixtures shared by every test group: tiny models and real server processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import settings

from inkshadow.engine.tiny import build_tiny_model, is_tiny_model
from inkshadow.families import Family

# CI runs must not depend on luck: the same examples every run, no per-example deadline on a
# loaded machine. HYPOTHESIS_PROFILE=explore searches afresh (run it by hand now and then).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("INKSHADOW_TEST_CACHE", REPO / ".cache"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tiny_model(family: Family) -> Path:
    """A tiny random-weight model of `family`, built once and cached outside the repo's
    tracked files."""
    path = CACHE / "tiny" / family.value
    if not is_tiny_model(path):
        build_tiny_model(family, path)
    return path


@pytest.fixture(scope="session")
def tiny_models() -> Callable[[Family], Path]:
    return tiny_model


@dataclass
class ServerProcess:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    args: list[str], log: Path, env: dict[str, str] | None = None, wait_ready: bool = True
) -> ServerProcess:
    """Start `inkshadow serve ARGS` on a free loopback port and wait until /ready."""
    port = free_port()
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    handle = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "inkshadow.cli", "serve", "--port", str(port), *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=full_env,
    )
    server = ServerProcess(f"http://127.0.0.1:{port}", proc, log)
    if wait_ready:
        wait_for_ready(server)
    return server


def wait_for_ready(server: ServerProcess, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.logs()[-3000:]}")
        try:
            if httpx.get(server.url + "/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready in {timeout} s:\n{server.logs()[-3000:]}")


def stop_server(server: ServerProcess) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture(scope="session")
def vl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One in-process-engine server with a tiny Qwen2.5-VL, shared by the API tests.

    batch_wait_ms is long so that concurrent test requests provably land in one batch."""
    log = tmp_path_factory.mktemp("serve") / "qwen2.5-vl.log"
    server = start_server(
        ["--model", str(tiny_model(Family.QWEN2_5_VL)), "--max-batch-size", "8"],
        log,
        env={
            "INKSHADOW_BATCH_WAIT_MS": "300",
            "INKSHADOW_MAX_MEDIA_PARTS": "4",
            "INKSHADOW_MAX_BODY_BYTES": str(8 * 1024 * 1024),
        },
    )
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def qwen3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("serve") / "qwen3-vl.log"
    server = start_server(["--model", str(tiny_model(Family.QWEN3_VL))], log)
    yield server
    stop_server(server)
