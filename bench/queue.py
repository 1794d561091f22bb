"""Queue benchmark on PostgreSQL: inkshadow's job queue next to procrastinate, same
database, same run, same 1 ms task, with 1, 4 and 8 worker processes.

Per system and worker count:
- pickup latency: jobs submitted one at a time at a steady pace below capacity; the
  enqueue-to-start time of each (inkshadow: job created -> plan task claimed;
  procrastinate: its `deferred` -> `started` events). P50 / P99.
- throughput: a batch of jobs committed at once with the workers idle and warm; jobs/s
  from that commit to the last job's end.

    python bench/queue.py [--url postgresql://user@host/db] [--workers 1,4,8]

Without --url it creates (and drops) a database on the local server. Prints JSON."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder leads sys.path and its name shadows the standard
# `queue` module that psycopg and logging import: drop the folder first.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import time
from typing import Any

import psycopg
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from inkshadow.jobs.queue import JobIds, JobQueue  # noqa: E402
from inkshadow.jobs.types import HandlerRegistry, Json, Payload  # noqa: E402
from inkshadow.store import Store, open_store  # noqa: E402
from inkshadow.store.migrate import upgrade  # noqa: E402
from inkshadow.store.models import Job, Task  # noqa: E402


class Noop:
    def seconds(self, payload: Payload) -> float:
        return 0.0

    async def plan(self, payload: Payload) -> list[Payload]:
        return [payload]

    async def run_chunk(self, payload: Payload) -> Json:
        await asyncio.sleep(0.001)
        return {"ok": True}

    async def merge(self, payload: Payload, results: list[Json]) -> Json:
        return results[0]


def procrastinate_app(conninfo: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

    @app.task(name="noop")
    async def noop(i: int) -> None:
        await asyncio.sleep(0.001)

    return app


# --- worker processes --------------------------------------------------------------------


def run_ours(url: str) -> None:
    from inkshadow.cli_jobs import run_worker
    from inkshadow.settings import Settings

    async def handlers(_: Settings) -> Any:
        async def close() -> None:
            return None

        return HandlerRegistry({"bench": Noop()}), close

    settings = Settings(database_url=url, log_level="WARNING")
    asyncio.run(run_worker(settings, 0, False, handlers))


def run_procrastinate(conninfo: str) -> None:
    app = procrastinate_app(conninfo)

    async def main() -> None:
        async with app.open_async():
            await app.run_worker_async(
                concurrency=1, listen_notify=True, install_signal_handlers=True
            )

    asyncio.run(main())


def spawn(role: str, url: str, n: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, __file__, "--role", role, "--url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# --- measurements ------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(latencies: list[float], jobs: int, seconds: float) -> dict[str, float]:
    return {
        "pickup_p50_ms": round(pct(latencies, 0.5) * 1000, 2),
        "pickup_p99_ms": round(pct(latencies, 0.99) * 1000, 2),
        "jobs_per_s": round(jobs / seconds, 1),
    }


class Ours:
    def __init__(self, url: str) -> None:
        self.store: Store = open_store(url=url)
        upgrade(self.store)
        self.queue = JobQueue(self.store)

    def submit(self, tag: str) -> None:
        self.queue.submit(owner=tag, kind="bench", payload={}, request_hash="-")

    def batch(self, tag: str, n: int) -> float:
        """n jobs committed in one transaction; returns the commit time."""
        now = time.time()
        ids = JobIds()
        jobs, tasks = [], []
        for _ in range(n):
            job_id = ids(now)
            jobs.append(dict(id=job_id, owner=tag, kind="bench", status="queued", payload={},
                             request_hash="-", seconds=0.0, chunks_total=0, chunks_done=0,
                             max_attempts=3, created_at=now, updated_at=now))  # fmt: skip
            tasks.append(dict(job_id=job_id, kind="plan", idx=0, payload={}, seconds=0.0,
                              status="queued", attempts=0, max_attempts=3, run_after=now,
                              created_at=now))  # fmt: skip
        with self.store.transaction() as s:
            s.execute(insert(Job), jobs)
            s.execute(insert(Task), tasks)
            from inkshadow.jobs.queue import notify

            notify(s, self.store)
        return time.time()

    def done(self, tag: str) -> int:
        with self.store.transaction() as s:
            done = select(func.count()).where(Job.owner == tag, Job.status == "succeeded")
            return int(s.scalar(done) or 0)

    def latencies(self, tag: str) -> list[float]:
        with self.store.transaction() as s:
            rows = s.execute(
                select(Job.created_at, Task.started_at)
                .join(Task, Task.job_id == Job.id)
                .where(Job.owner == tag, Task.kind == "plan")
            ).all()
        return [b - a for a, b in rows]

    def last_end(self, tag: str) -> float:
        with self.store.transaction() as s:
            return float(s.scalar(select(func.max(Job.finished_at)).where(Job.owner == tag)))


class Procrastinate:
    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.app = procrastinate_app(conninfo)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            exists = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if exists is None or exists[0] is None:
            with self.app.open():
                self.app.schema_manager.apply_schema()
        self.ids: dict[str, list[int]] = {}

    def submit(self, tag: str) -> None:
        with self.app.open():
            self.ids.setdefault(tag, []).append(self.app.tasks["noop"].defer(i=0))

    def batch(self, tag: str, n: int) -> float:
        with self.app.open():
            self.ids.setdefault(tag, []).extend(
                self.app.tasks["noop"].batch_defer(*({"i": i} for i in range(n)))
            )
        return time.time()

    def _query(self, sql: str, tag: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            return conn.execute(sql, (self.ids.get(tag, []),)).fetchall()

    def done(self, tag: str) -> int:
        rows = self._query("SELECT count(*) FROM procrastinate_jobs WHERE id = ANY(%s) "
                           "AND status = 'succeeded'", tag)  # fmt: skip
        return int(rows[0][0])

    def latencies(self, tag: str) -> list[float]:
        rows = self._query(
            "SELECT extract(epoch FROM s.at - d.at) FROM procrastinate_events d "
            "JOIN procrastinate_events s ON s.job_id = d.job_id AND s.type = 'started' "
            "WHERE d.type = 'deferred' AND d.job_id = ANY(%s)", tag)  # fmt: skip
        return [float(r[0]) for r in rows]

    def last_end(self, tag: str) -> float:
        rows = self._query("SELECT extract(epoch FROM max(at)) FROM procrastinate_events "
                           "WHERE type = 'succeeded' AND job_id = ANY(%s)", tag)  # fmt: skip
        return float(rows[0][0])


def wait_done(system: Any, tag: str, n: int, limit_s: float = 300) -> None:
    deadline = time.monotonic() + limit_s
    while system.done(tag) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{tag}: only {system.done(tag)} of {n} jobs done")
        time.sleep(0.05)


def measure(
    system: Any, role: str, url: str, workers: int, args: argparse.Namespace
) -> dict[str, Any]:
    procs = spawn(role, url, workers)
    try:
        warm = f"warm-{secrets.token_hex(3)}"
        for _ in range(workers * 4):
            system.submit(warm)
        wait_done(system, warm, workers * 4)
        time.sleep(1.0)  # every process is up and idle
        tag = f"lat-{secrets.token_hex(3)}"
        for _ in range(args.latency_jobs):
            system.submit(tag)
            time.sleep(1.0 / args.pace)
        wait_done(system, tag, args.latency_jobs)
        lat = system.latencies(tag)
        time.sleep(0.5)
        tag = f"tput-{secrets.token_hex(3)}"
        committed = system.batch(tag, args.batch_jobs)
        wait_done(system, tag, args.batch_jobs)
        elapsed = system.last_end(tag) - committed
        return {"workers": workers, **summary(lat, args.batch_jobs, max(elapsed, 1e-6))}
    finally:
        stop(procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="PostgreSQL URL; default: a throwaway database")
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--pace", type=float, default=40.0, help="latency jobs per second")
    parser.add_argument("--batch-jobs", type=int, default=1000)
    parser.add_argument("--role", choices=["ours", "procrastinate"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "ours":
        run_ours(args.url)
        return
    if args.role == "procrastinate":
        run_procrastinate(args.url)
        return
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = None
    if args.url is None:
        name = f"inkshadow_bench_{secrets.token_hex(4)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        args.url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    sa_url = args.url.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        ours, other = Ours(sa_url), Procrastinate(args.url)
        rows = []
        for n in [int(x) for x in args.workers.split(",")]:
            rows.append({"system": "inkshadow", **measure(ours, "ours", sa_url, n, args)})
            rows.append(
                {"system": "procrastinate", **measure(other, "procrastinate", args.url, n, args)}
            )
        ours.store.dispose()
        result = {
            "bench": "queue", "database": "postgresql", "task": "async sleep 1 ms",
            "latency_jobs": args.latency_jobs, "pace_per_s": args.pace,
            "batch_jobs": args.batch_jobs, "cpus": os.cpu_count(),
            "loadavg_1m": os.getloadavg()[0], "results": rows,
        }  # fmt: skip
        print(json.dumps(result, indent=2))
    finally:
        if name is not None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
