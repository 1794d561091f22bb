"""Real processes on loopback: scripted upstreams and gateways, stopped after each test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.services import redis_url

__all__ = ["redis_url"]

HERE = Path(__file__).resolve().parent
UPSTREAM_SCRIPT = HERE / "upstream.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, seconds: float = 20.0, status: int | None = 200) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if status is None or httpx.get(url, timeout=1.0).status_code == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer {status} within {seconds}s")


@dataclass
class Proc:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def control(self, **values: object) -> None:
        httpx.post(self.url + "/_control", json=values, timeout=5).raise_for_status()

    def stats(self) -> dict[str, int]:
        data: dict[str, int] = httpx.get(self.url + "/_stats", timeout=5).json()
        return data


class Cluster:
    """Starts processes for one test and kills whatever is left at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[Proc] = []

    def _spawn(self, name: str, args: list[str], port: int, env: dict[str, str] | None) -> Proc:
        log = self.tmp / f"{name}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("INKSHADOW_")}
        full_env.update(env or {})
        handle = log.open("wb")
        proc = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=full_env)
        handle.close()
        p = Proc(name, port, proc, log)
        self.procs.append(p)
        return p

    def upstream(self, name: str, grace: float = 30.0) -> Proc:
        port = free_port()
        p = self._spawn(
            f"upstream-{name}",
            [sys.executable, str(UPSTREAM_SCRIPT), "--port", str(port), "--name", name,
             "--grace", str(grace)],
            port,
            None,
        )  # fmt: skip
        wait_http(p.url + "/health")
        return p

    def gateway(
        self,
        upstreams: list[Proc],
        *,
        policy: str = "least_outstanding",
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        ready: bool = True,
    ) -> Proc:
        port = free_port()
        cmd = [sys.executable, "-m", "inkshadow.gateway", "--port", str(port), "--policy", policy]
        for up in upstreams:
            cmd += ["--upstream", up.url]
        settings = {
            "INKSHADOW_GATEWAY_HEALTH_INTERVAL_S": "0.2",
            "INKSHADOW_GATEWAY_HEALTH_TIMEOUT_S": "0.5",
            "INKSHADOW_GATEWAY_EJECT_BASE_S": "0.5",
            "INKSHADOW_GATEWAY_CONNECT_TIMEOUT_S": "1",
            "INKSHADOW_DRAIN_GRACE_S": "20",
            **(env or {}),
        }
        p = self._spawn("gateway", cmd + (args or []), port, settings)
        wait_http(p.url + ("/ready" if ready else "/health"))
        return p

    def close(self) -> None:
        for p in self.procs:
            p.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()
