"""Leases on both databases: a worker presumed dead cannot write after its lease was taken
over; expired tasks are retried, then fail the job after max_attempts; shutdown hands
leases back untried; the metrics snapshot counts what waits."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from inkshadow.jobs.leases import Leases
from inkshadow.jobs.metrics import read_stats
from inkshadow.jobs.queue import JobQueue
from inkshadow.store import Store
from inkshadow.store.models import JobResult, Task
from tests.jobs.conftest import running, wait_done
from tests.jobs.handlers import registry
from tests.jobs.test_contract import submit


def no_backoff(_: int) -> float:
    return 0.0


def test_a_stale_lease_holder_cannot_write(store: Store, queue: JobQueue) -> None:
    job_id = submit(queue, chunks=1)
    leases = Leases(store)
    stale = leases.claim("w-stale", lease_s=0.1)
    assert stale is not None and stale.job_id == job_id and stale.attempts == 1
    time.sleep(0.2)
    assert leases.reap(no_backoff) == (1, [])
    fresh = leases.claim("w-fresh", lease_s=30)
    assert fresh is not None and fresh.task_id == stale.task_id and fresh.attempts == 2
    assert leases.renew([stale.token, fresh.token], 30) == {fresh.token}
    chunk = ({"i": 0}, 0.0, {"sq": 0})
    assert leases.finish_inline(stale, chunk, {"by": "stale"}) is None
    end = leases.finish_inline(fresh, chunk, {"by": "fresh"})
    assert end is not None and end.status == "succeeded"
    assert leases.finish_inline(fresh, chunk, {"by": "again"}) is None  # never twice
    assert queue.result(job_id, "t1") == {"by": "fresh"}
    with store.transaction() as s:
        assert s.scalar(select(func.count()).select_from(JobResult)) == 1


def test_expired_leases_fail_the_job_after_max_attempts(store: Store, queue: JobQueue) -> None:
    job_id = submit(queue, chunks=1)
    leases = Leases(store)
    for attempt in (1, 2, 3):
        lease = leases.claim(f"w{attempt}", lease_s=0.05)
        assert lease is not None and lease.attempts == attempt
        time.sleep(0.1)
        requeued, ended = leases.reap(no_backoff)
        assert (requeued, len(ended)) == ((1, 0) if attempt < 3 else (0, 1))
    view = queue.get(job_id, "t1")
    assert (view.status, view.error_code) == ("failed", "worker_lost")
    assert view.error_message == "the worker stopped during attempt 3 of 3"
    assert leases.claim("w4", lease_s=1) is None


async def test_shutdown_releases_the_lease_untried(store: Store, queue: JobQueue) -> None:
    job_id = submit(queue, chunks=1, ms=60_000)
    async with running(store, registry(), grace_s=0.2):
        for _ in range(200):
            if queue.get(job_id, "t1").status == "running":
                break
            await asyncio.sleep(0.02)
    with store.transaction() as s:
        task = s.scalars(select(Task).where(Task.job_id == job_id)).one()
    assert (task.status, task.attempts, task.lease_token) == ("queued", 0, None)
    assert queue.get(job_id, "t1").status == "running"  # it started; it goes on elsewhere
    quick = registry()
    async with running(store, quick):
        # The same job, now with a short sleep: prove another worker takes it at once.
        with store.transaction() as s:
            s.get(Task, task.id).payload = {"key": "x", "chunks": 1, "ms": 1}  # type: ignore[union-attr]
        assert (await wait_done(queue, job_id, "t1")).status == "succeeded"


def test_metrics_snapshot(store: Store, queue: JobQueue) -> None:
    for _ in range(3):
        submit(queue, chunks=1, seconds=10.0)
    stats = read_stats(store)
    assert (stats.jobs_queued, stats.jobs_running, stats.tasks_waiting) == (3, 0, 3)
    assert (stats.backlog_seconds, stats.active_leases) == (30.0, 0)
    assert Leases(store).claim("w", lease_s=30) is not None
    stats = read_stats(store)
    assert (stats.jobs_queued, stats.jobs_running, stats.active_leases) == (2, 1, 1)
    assert stats.backlog_seconds == 20.0
    assert stats.jobs_waiting == 2  # the claimed job has nothing else waiting


async def test_a_fanned_out_job_still_counts_as_waiting(store: Store, queue: JobQueue) -> None:
    """The HPA's queue length: a running job whose chunks wait for workers is waiting."""
    job_id = submit(queue, chunks=4, ms=60_000, seconds=40.0)
    async with running(store, registry(), concurrency=1, grace_s=0.2):
        for _ in range(500):
            stats = read_stats(store)
            if stats.tasks_waiting == 3:
                break
            await asyncio.sleep(0.02)
        assert queue.get(job_id, "t1").status == "running"
        assert (stats.jobs_queued, stats.jobs_waiting, stats.tasks_waiting) == (0, 1, 3)
        assert stats.backlog_seconds == 30.0
