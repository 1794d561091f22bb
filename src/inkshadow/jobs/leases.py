"""The worker side of the queue: claim, renew, release and finish leased tasks.

Every write a worker makes after its claim is fenced by the lease token and `status =
'running'`: a worker whose lease expired (it stalled, or was presumed dead) and was taken
over cannot write anything, so a result and its status change commit once, together."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from inkshadow.jobs import pg_fast
from inkshadow.jobs.queue import end_of, notify
from inkshadow.jobs.types import JobEnd, Json, Lease, Payload
from inkshadow.store.engine import Store
from inkshadow.store.models import Job, JobResult, Task

Clock = Callable[[], float]
Backoff = Callable[[int], float]  # attempt number (1-based) -> seconds before the next try


class Leases:
    def __init__(self, store: Store, *, clock: Clock = time.time) -> None:
        self.store = store
        self._clock = clock

    def claim(self, owner: str, lease_s: float) -> Lease | None:
        """Take the oldest runnable task. PostgreSQL: SKIP LOCKED lets workers claim in
        parallel; SQLite: the transaction holds the write lock (BEGIN IMMEDIATE)."""
        now = self._clock()
        token = secrets.token_hex(16)
        if self.store.is_postgres:
            return pg_fast.claim(self.store, owner, token, now, lease_s)
        pick = (
            select(Task.id)
            .where(Task.status == "queued", Task.run_after <= now)
            .order_by(Task.run_after, Task.id)
            .limit(1)
        )
        with self.store.transaction() as session:
            row = session.execute(
                update(Task)
                .where(Task.id == pick.scalar_subquery())
                .values(
                    status="running",
                    attempts=Task.attempts + 1,
                    lease_owner=owner,
                    lease_token=token,
                    lease_expires=now + lease_s,
                    started_at=func.coalesce(Task.started_at, now),
                )
                .returning(
                    Task.id,
                    Task.job_id,
                    Task.kind,
                    Task.idx,
                    Task.payload,
                    Task.attempts,
                    Task.max_attempts,
                )
            ).first()
            if row is None:
                return None
            if row.kind == "plan":
                session.execute(
                    update(Job)
                    .where(Job.id == row.job_id, Job.status == "queued")
                    .values(status="running", started_at=now, updated_at=now)
                )
            job = session.execute(
                select(Job.kind, Job.created_at).where(Job.id == row.job_id)
            ).one()
        return Lease(
            task_id=row.id, job_id=row.job_id, job_kind=job.kind, kind=row.kind, idx=row.idx,
            payload=row.payload, attempts=row.attempts, max_attempts=row.max_attempts,
            token=token, job_created_at=job.created_at, claimed_at=now,
        )  # fmt: skip

    def renew(self, tokens: list[str], lease_s: float) -> set[str]:
        """Extend the leases still held; returns their tokens (a missing one was lost)."""
        if not tokens:
            return set()
        with self.store.transaction() as session:
            rows = session.execute(
                update(Task)
                .where(Task.lease_token.in_(tokens), Task.status == "running")
                .values(lease_expires=self._clock() + lease_s)
                .returning(Task.lease_token)
            ).all()
        return {r.lease_token for r in rows}

    def release(self, lease: Lease) -> bool:
        """Give a task back untried (shutdown): the attempt does not count."""
        with self.store.transaction() as session:
            return _fenced(session, lease, status="queued", attempts=Task.attempts - 1,
                           run_after=self._clock(), lease_owner=None, lease_token=None,
                           lease_expires=None) and _notified(session, self.store)  # fmt: skip

    def job_input(self, lease: Lease) -> tuple[Payload, list[Json]]:
        """The job payload and its chunk results in plan order (for merge)."""
        with self.store.transaction() as session:
            payload = session.scalar(select(Job.payload).where(Job.id == lease.job_id))
            results = session.scalars(
                select(Task.result)
                .where(Task.job_id == lease.job_id, Task.kind == "chunk")
                .order_by(Task.idx)
            ).all()
        return dict(payload or {}), list(results)

    def finish_plan(self, lease: Lease, chunks: list[tuple[Payload, float]]) -> bool:
        """Record the plan: chunk tasks queue behind the job's age, not behind newer jobs."""
        now = self._clock()
        with self.store.transaction() as session:
            if not _fenced(session, lease, **_done(now)):
                return False
            created = session.scalar(select(Job.created_at).where(Job.id == lease.job_id))
            for idx, (payload, seconds) in enumerate(chunks):
                session.add(_task(lease, "chunk", idx, payload, seconds, created or now, now))
            session.execute(
                update(Job)
                .where(Job.id == lease.job_id)
                .values(chunks_total=len(chunks), chunks_done=0, updated_at=now)
            )
            notify(session, self.store)
        return True

    def finish_inline(
        self, lease: Lease, chunk: tuple[Payload, float, Json] | None, merged: Json
    ) -> JobEnd | None:
        """A job of at most one chunk, planned, run and merged under the plan's lease: one
        commit instead of three task round trips."""
        now = self._clock()
        if self.store.is_postgres:
            return pg_fast.finish_inline(self.store, lease, chunk, merged, now)
        with self.store.transaction() as session:
            if not _fenced(session, lease, **_done(now)):
                return None
            if chunk is not None:
                task = _task(lease, "chunk", 0, chunk[0], chunk[1], now, now)
                task.status, task.result, task.attempts = "done", chunk[2], 1
                task.finished_at = now
                session.add(task)
            total = 0 if chunk is None else 1
            session.execute(
                update(Job)
                .where(Job.id == lease.job_id)
                .values(chunks_total=total, chunks_done=total)
            )
            return _succeed(session, lease.job_id, merged, now)

    def finish_chunk(self, lease: Lease, result: Json) -> bool:
        now = self._clock()
        with self.store.transaction() as session:
            if not _fenced(session, lease, result=result, **_done(now)):
                return False
            # The row lock serialises concurrent chunk finishes: exactly one sees the last.
            job = session.execute(
                update(Job)
                .where(Job.id == lease.job_id)
                .values(chunks_done=Job.chunks_done + 1, updated_at=now)
                .returning(Job.chunks_done, Job.chunks_total, Job.status, Job.created_at)
            ).one()
            if job.chunks_done >= job.chunks_total and job.status == "running":
                session.add(_task(lease, "merge", 0, {}, 0.0, job.created_at, now))
                notify(session, self.store)
        return True

    def finish_merge(self, lease: Lease, merged: Json) -> JobEnd | None:
        now = self._clock()
        with self.store.transaction() as session:
            if not _fenced(session, lease, **_done(now)):
                return None
            return _succeed(session, lease.job_id, merged, now)

    def fail(
        self, lease: Lease, message: str, *, code: str, retry_in: float | None
    ) -> tuple[bool, JobEnd | None]:
        """Retry after `retry_in` seconds while attempts remain, else fail the job.
        Returns (still ours, job end)."""
        now = self._clock()
        with self.store.transaction() as session:
            if retry_in is not None and lease.attempts < lease.max_attempts:
                ok = _fenced(session, lease, status="queued", run_after=now + retry_in,
                             lease_owner=None, lease_token=None, lease_expires=None,
                             last_error=message)  # fmt: skip
                return ok, None
            if not _fenced(session, lease, **_done(now, "failed"), last_error=message):
                return False, None
            return True, fail_job(session, lease.job_id, message, code, now)

    def reap(self, backoff: Backoff, limit: int = 100) -> tuple[int, list[JobEnd]]:
        """Requeue tasks whose lease expired (their worker died or stalled), or fail their
        job when the task has used all its attempts. Returns (requeued, ended jobs)."""
        now = self._clock()
        pick = (
            select(Task.id, Task.job_id, Task.attempts, Task.max_attempts)
            .where(Task.status == "running", Task.lease_expires < now)
            .limit(limit)
        )
        if self.store.is_postgres:
            pick = pick.with_for_update(skip_locked=True)
        requeued, ended = 0, []
        with self.store.transaction() as session:
            for row in session.execute(pick).all():
                lost = f"the worker stopped during attempt {row.attempts} of {row.max_attempts}"
                values: dict[str, Any] = {"lease_owner": None, "lease_token": None,
                                          "lease_expires": None, "last_error": lost}  # fmt: skip
                if row.attempts < row.max_attempts:
                    values.update(status="queued", run_after=now + backoff(row.attempts))
                    requeued += 1
                else:
                    values.update(status="failed", finished_at=now)
                session.execute(update(Task).where(Task.id == row.id).values(**values))
                if values["status"] == "failed":
                    end = fail_job(session, row.job_id, lost, "worker_lost", now)
                    if end is not None:
                        ended.append(end)
            if requeued:
                notify(session, self.store)
        return requeued, ended


def _fenced(session: Session, lease: Lease, **values: Any) -> bool:
    result = session.execute(
        update(Task)
        .where(Task.id == lease.task_id, Task.lease_token == lease.token, Task.status == "running")
        .values(**values)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _notified(session: Session, store: Store) -> bool:
    notify(session, store)
    return True


def _done(now: float, status: str = "done") -> dict[str, Any]:
    return {"status": status, "finished_at": now, "lease_token": None, "lease_expires": None}


def _task(
    lease: Lease, kind: str, idx: int, payload: Payload, seconds: float, after: float, now: float
) -> Task:
    return Task(
        job_id=lease.job_id, kind=kind, idx=idx, payload=payload, seconds=seconds,
        status="queued", attempts=0, max_attempts=lease.max_attempts, run_after=after,
        created_at=now,
    )  # fmt: skip


def _succeed(session: Session, job_id: str, merged: Json, now: float) -> JobEnd | None:
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one()
    if job.status != "running":  # cancelled meanwhile: the result is dropped
        return None
    session.add(JobResult(job_id=job_id, result=merged, created_at=now))
    job.status, job.finished_at, job.updated_at = "succeeded", now, now
    job.chunks_done = job.chunks_total
    session.flush()
    return end_of(job)


def fail_job(session: Session, job_id: str, message: str, code: str, now: float) -> JobEnd | None:
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one()
    if job.status not in ("queued", "running"):
        return None
    job.status, job.finished_at, job.updated_at = "failed", now, now
    job.error_message, job.error_code = message, code
    session.execute(
        update(Task)
        .where(Task.job_id == job_id, Task.status == "queued")
        .values(status="cancelled", finished_at=now)
    )
    session.flush()
    return end_of(job)
