"""Real worker processes for the fault tests: start, kill -9, restart, stop."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


class WorkerPool:
    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = {**os.environ, "INKSHADOW_LOG_LEVEL": "WARNING", **env}
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started = 0
        self.killed = 0

    def spawn(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.logdir / f"worker-{self.started}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.jobs.workerproc"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def start(self, n: int) -> None:
        for _ in range(n):
            self.spawn()

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def kill_one(self, rng: random.Random) -> None:
        live = self.alive()
        if live:
            victim = rng.choice(live)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            self.killed += 1

    def top_up(self, n: int) -> int:
        """Replace dead workers (killed, or crashed by a job) up to n live ones."""
        missing = n - len(self.alive())
        for _ in range(missing):
            self.spawn()
        return max(0, missing)

    def stop(self) -> None:
        for p in self.alive():
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
