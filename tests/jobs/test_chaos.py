"""Real worker processes on real PostgreSQL, killed with SIGKILL at random while 2 000 jobs
run: every job succeeds exactly once, no result is written twice, nothing is left behind.
And a job that kills its worker on every attempt ends failed after max_attempts."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from inkshadow.jobs.queue import JobQueue
from inkshadow.store import Store, open_store
from inkshadow.store.migrate import upgrade
from inkshadow.store.models import Job, JobResult, Task
from tests.jobs.procs import WorkerPool
from tests.services import Postgres

JOBS = 2000
WORKERS = 8


@pytest.fixture
def pg_store(postgres: Postgres) -> Iterator[tuple[Store, str]]:
    name = postgres.create_database()
    url = postgres.url(name)
    store = open_store(url=url)
    upgrade(store)
    yield store, url
    store.dispose()
    postgres.drop_database(name)


def _counts(store: Store) -> dict[str, int]:
    with store.transaction() as s:
        jobs = dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        results = s.scalar(select(func.count()).select_from(JobResult)) or 0
        distinct = s.scalar(select(func.count(func.distinct(JobResult.job_id)))) or 0
        live = s.scalar(select(func.count()).where(Task.status.in_(("queued", "running"))))
    return {**{f"jobs_{k}": v for k, v in jobs.items()}, "result_rows": results,
            "distinct_result_jobs": distinct, "live_tasks": live or 0}  # fmt: skip


@pytest.mark.timeout(240)
def test_kill_9_workers_throughout(pg_store: tuple[Store, str], tmp_path: Path) -> None:
    store, url = pg_store
    runlog = tmp_path / "runs.log"
    pool = WorkerPool(
        {"INKSHADOW_DATABASE_URL": url, "INKSHADOW_JOB_LEASE_S": "1.0",
         "INKSHADOW_DRAIN_GRACE_S": "2", "INKSHADOW_TEST_RUNLOG": str(runlog)},
        tmp_path,
    )  # fmt: skip
    queue = JobQueue(store, max_attempts=25)  # kills must not exhaust honest jobs
    rng = random.Random(4)
    chunks_of = {i: (3 if i % 10 == 0 else 1) for i in range(JOBS)}
    started = time.monotonic()
    pool.start(WORKERS)
    submitted = 0
    try:
        deadline = started + 170
        next_kill = started + 1.5
        while time.monotonic() < deadline:
            for i in range(submitted, min(JOBS, submitted + 100)):  # submissions throughout
                queue.submit(owner="chaos", kind="quick", request_hash=str(i),
                             payload={"key": f"j{i}", "chunks": chunks_of[i], "ms": 2})  # fmt: skip
            submitted = min(JOBS, submitted + 100)
            if time.monotonic() >= next_kill:
                pool.kill_one(rng)
                next_kill = time.monotonic() + rng.uniform(0.2, 0.8)
            pool.top_up(WORKERS)
            counts = _counts(store)
            if (
                submitted == JOBS
                and counts.get("jobs_succeeded", 0) + counts.get("jobs_failed", 0) == JOBS
            ):
                break
            time.sleep(0.1)
    finally:
        pool.stop()
    elapsed = time.monotonic() - started
    counts = _counts(store)
    runs = Counter(runlog.read_text().split())
    expected_chunks = sum(chunks_of.values())
    report = {
        "jobs": JOBS, **counts, "workers_started": pool.started, "kill_9": pool.killed,
        "chunk_runs_finished": sum(runs.values()), "distinct_chunks": len(runs),
        "chunks_run_more_than_once": sum(1 for n in runs.values() if n > 1),
        "seconds": round(elapsed, 1),
    }  # fmt: skip
    print("\nkill -9 chaos:", report)
    assert counts.get("jobs_succeeded") == JOBS, report
    assert counts["result_rows"] == counts["distinct_result_jobs"] == JOBS, report
    assert counts["live_tasks"] == 0, report
    assert len(runs) == expected_chunks, report  # every chunk ran to the end at least once
    assert pool.killed >= 20, report


@pytest.mark.timeout(120)
def test_a_job_that_kills_its_worker_fails_after_max_attempts(
    pg_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, url = pg_store
    pool = WorkerPool({"INKSHADOW_DATABASE_URL": url, "INKSHADOW_JOB_LEASE_S": "0.6"}, tmp_path)
    queue = JobQueue(store, max_attempts=3)
    crash, _ = queue.submit(owner="t", kind="quick", request_hash="c",
                            payload={"key": "boom", "crash": True})  # fmt: skip
    honest, _ = queue.submit(owner="t", kind="quick", request_hash="h", payload={"key": "ok"})
    pool.start(2)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if queue.get(crash.id, "t").status in ("failed", "succeeded"):
                break
            pool.top_up(2)  # what a Deployment does for crashed pods
            time.sleep(0.1)
    finally:
        pool.stop()
    view = queue.get(crash.id, "t")
    assert (view.status, view.error_code) == ("failed", "worker_lost"), view
    assert view.error_message == "the worker stopped during attempt 3 of 3"
    assert queue.get(honest.id, "t").status == "succeeded"
    with store.transaction() as s:
        attempts = s.scalar(select(Task.attempts).where(Task.job_id == crash.id))
    assert attempts == 3
    assert pool.started - 2 >= 2  # at least the first two crashes were restarted
