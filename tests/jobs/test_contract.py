"""The queue's contract, on SQLite and on PostgreSQL alike: submit, fan-out and merge,
idempotency, retries with backoff, max_attempts, permanent errors, cancellation, listing."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import func, select

from inkshadow.errors import NotFound
from inkshadow.jobs.queue import JobQueue
from inkshadow.jobs.types import IdempotencyConflict, JobNotFinished
from inkshadow.store import Store
from inkshadow.store.models import Job, JobResult, Task
from tests.jobs.conftest import running, wait_done
from tests.jobs.handlers import expected, registry


def submit(queue: JobQueue, owner: str = "t1", key: str | None = None, **payload: object) -> str:
    job, _ = queue.submit(
        owner=owner, kind="quick", payload=dict(payload), request_hash=str(sorted(payload.items())),
        idempotency_key=key, seconds=float(payload.get("seconds", 0.0)),  # type: ignore[arg-type]
    )  # fmt: skip
    return job.id


def tasks_of(store: Store, job_id: str) -> list[tuple[str, int, str, int]]:
    with store.transaction() as s:
        rows = s.execute(
            select(Task.kind, Task.idx, Task.status, Task.attempts)
            .where(Task.job_id == job_id)
            .order_by(Task.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_one_chunk_job_runs_once(store: Store, queue: JobQueue) -> None:
    job_id = submit(queue, key=None, chunks=1)
    queued = queue.get(job_id, "t1")
    assert (queued.status, queued.progress, queued.started_at) == ("queued", 0.0, None)
    handlers = registry()
    async with running(store, handlers):
        done = await wait_done(queue, job_id, "t1")
    assert done.status == "succeeded" and done.progress == 1.0
    assert (done.chunks_done, done.chunks_total) == (1, 1)
    assert done.created_at <= (done.started_at or 0) <= (done.finished_at or 0)
    assert queue.result(job_id, "t1") == {"key": None, **expected(1)}
    # planned, run and merged under one lease: a done plan and a done chunk, no merge task
    assert [t[:3] for t in tasks_of(store, job_id)] == [("plan", 0, "done"), ("chunk", 0, "done")]


async def test_fan_out_and_merge_in_plan_order(store: Store, queue: JobQueue) -> None:
    ids = [submit(queue, key=f"k{i}", chunks=7, ms=5) for i in range(3)]
    async with running(store, registry(), concurrency=4), running(store, registry()):
        views = [await wait_done(queue, i, "t1") for i in ids]
    assert all(v.status == "succeeded" and (v.chunks_done, v.chunks_total) == (7, 7) for v in views)
    for job_id in ids:
        result = queue.result(job_id, "t1")
        assert {k: result[k] for k in ("n", "sum", "order")} == expected(7)
        kinds = [t[0] for t in tasks_of(store, job_id)]
        assert (kinds.count("plan"), kinds.count("chunk"), kinds.count("merge")) == (1, 7, 1)
    with store.transaction() as s:
        assert s.scalar(select(func.count()).select_from(JobResult)) == 3


async def test_retries_with_backoff_then_succeeds(store: Store, queue: JobQueue) -> None:
    job_id = submit(queue, chunks=2, fail=2)  # each chunk fails twice, passes on try 3
    started = time.monotonic()
    async with running(store, registry(), backoff_base_s=0.2, backoff_cap_s=1.0):
        done = await wait_done(queue, job_id, "t1")
    assert done.status == "succeeded"
    # two backoffs of at least half of 0.2 s and 0.4 s each
    assert time.monotonic() - started >= 0.3
    attempts = {(k, i): a for k, i, _, a in tasks_of(store, job_id)}
    assert attempts[("chunk", 0)] == attempts[("chunk", 1)] == 3


async def test_max_attempts_then_failed_with_last_error(store: Store, queue: JobQueue) -> None:
    job_id = submit(queue, chunks=2, fail=99)
    async with running(store, registry()):
        done = await wait_done(queue, job_id, "t1")
    assert done.status == "failed"
    assert done.error_message is not None and "RuntimeError" in done.error_message
    assert done.error_code == "internal_error"
    with pytest.raises(JobNotFinished):
        queue.result(job_id, "t1")
    statuses = sorted(t[2] for t in tasks_of(store, job_id) if t[0] == "chunk")
    assert "failed" in statuses and "running" not in statuses and "queued" not in statuses


async def test_client_errors_are_not_retried(store: Store, queue: JobQueue) -> None:
    job_id = submit(queue, chunks=1, permanent=True)
    async with running(store, registry()):
        done = await wait_done(queue, job_id, "t1")
    assert (done.status, done.error_code) == ("failed", "invalid_request")
    assert done.error_message == "the input cannot be processed"
    assert [t[3] for t in tasks_of(store, job_id) if t[0] == "plan"] == [1]


async def test_unknown_kind_fails(store: Store, queue: JobQueue) -> None:
    job_id = submit(queue, chunks=1)
    async with running(store, registry(kind="other")):
        done = await wait_done(queue, job_id, "t1")
    assert (done.status, done.error_code) == ("failed", "bad_kind")


def test_idempotency_key_returns_the_same_job(queue: JobQueue) -> None:
    first, created = queue.submit(
        owner="t1", kind="quick", payload={"a": 1}, request_hash="h1", idempotency_key="k"
    )
    again, created_again = queue.submit(
        owner="t1", kind="quick", payload={"a": 1}, request_hash="h1", idempotency_key="k"
    )
    assert created and not created_again and again.id == first.id
    other, created_other = queue.submit(
        owner="t2", kind="quick", payload={"a": 1}, request_hash="h1", idempotency_key="k"
    )
    assert created_other and other.id != first.id  # keys are per tenant
    with pytest.raises(IdempotencyConflict):
        queue.submit(
            owner="t1", kind="quick", payload={"a": 2}, request_hash="h2", idempotency_key="k"
        )


def test_concurrent_submits_with_one_key_make_one_job(store: Store, queue: JobQueue) -> None:
    barrier = threading.Barrier(12)
    ids: list[str] = []

    def go() -> None:
        barrier.wait()
        job, _ = queue.submit(
            owner="t1", kind="quick", payload={}, request_hash="h", idempotency_key="same"
        )
        ids.append(job.id)

    threads = [threading.Thread(target=go) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 12 and len(set(ids)) == 1
    with store.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1
        assert s.scalar(select(func.count()).select_from(Task)) == 1


async def test_cancel_queued_and_running_jobs(store: Store, queue: JobQueue) -> None:
    queued = submit(queue, chunks=1)
    view, end = queue.cancel(queued, "t1")
    assert view.status == "cancelled" and end is not None
    assert queue.cancel(queued, "t1")[1] is None  # already ended: no second end event
    slow = submit(queue, key="slow", chunks=2, ms=30_000)
    async with running(store, registry(), lease_s=0.6):
        for _ in range(200):  # until planned: the chunks are running
            if queue.get(slow, "t1").chunks_total:
                break
            await asyncio.sleep(0.05)
        queue.cancel(slow, "t1")
        await asyncio.sleep(0.6)  # a heartbeat notices and stops the chunk work
    assert queue.get(slow, "t1").status == "cancelled"
    assert {t[2] for t in tasks_of(store, queued)} == {"cancelled"}
    assert {t[2] for t in tasks_of(store, slow) if t[0] == "chunk"} == {"cancelled"}


def test_owner_isolation_and_cursor_pages(queue: JobQueue) -> None:
    mine = [submit(queue, owner="a", n=i) for i in range(7)]
    submit(queue, owner="b")
    with pytest.raises(NotFound):
        queue.get(mine[0], "b")
    with pytest.raises(NotFound):
        queue.cancel(mine[0], "b")
    seen: list[str] = []
    after = None
    while True:
        page, more = queue.list("a", limit=3, after=after)
        seen += [j.id for j in page]
        if not more:
            break
        after = page[-1].id
    assert seen == list(reversed(mine))  # newest first, each once
