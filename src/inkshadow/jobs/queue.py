"""The client side of the queue: submit (idempotently), read, list, cancel, fetch results.

A submission is accepted only once its transaction commits (job row + its plan task), so a
202 always means the job is durable."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inkshadow.errors import NotFound
from inkshadow.jobs.types import (
    NOTIFY_CHANNEL,
    TERMINAL,
    IdempotencyConflict,
    JobEnd,
    JobNotFinished,
    JobStatus,
    JobView,
    Json,
    Payload,
)
from inkshadow.store.engine import Store
from inkshadow.store.models import Job, JobResult, Task

Clock = Callable[[], float]

_VIEW_COLUMNS = (
    Job.id,
    Job.owner,
    Job.kind,
    Job.status,
    Job.chunks_done,
    Job.chunks_total,
    Job.created_at,
    Job.started_at,
    Job.finished_at,
    Job.error_message,
    Job.error_code,
)


class JobIds:
    """Time-ordered job ids (ms timestamp, then randomness), so listing by id is listing by
    age; strictly increasing within this process: ids made in the same millisecond (a
    burst of submits) step the random part up instead of drawing it again, so they still
    list in submission order (ULID's monotonic rule)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_rand = 0

    def __call__(self, now: float) -> str:
        ms = int(now * 1000)
        with self._lock:
            if ms <= self._last_ms:
                ms = self._last_ms  # a clock step back never reorders our own ids
                rand = self._last_rand + 1
            else:
                rand = secrets.randbits(63)  # headroom: stepping up never overflows 16 hex
            self._last_ms, self._last_rand = ms, rand
        return f"job_{ms:012x}{rand:016x}"


def view_of(row: Any) -> JobView:
    """From a Job or a row of _VIEW_COLUMNS."""
    return JobView(
        id=row.id,
        owner=row.owner,
        kind=row.kind,
        status=cast(JobStatus, row.status),
        chunks_done=row.chunks_done,
        chunks_total=row.chunks_total,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error_message=row.error_message,
        error_code=row.error_code,
    )


def notify(session: Session, store: Store) -> None:
    """Wake listening workers when this transaction commits (PostgreSQL only; SQLite
    workers poll)."""
    if store.is_postgres:
        session.execute(text("SELECT pg_notify(:c, '')"), {"c": NOTIFY_CHANNEL})


def end_of(job: Job) -> JobEnd:
    return JobEnd(
        job_id=job.id,
        status=cast(JobStatus, job.status),
        created_at=job.created_at,
        finished_at=job.finished_at or job.updated_at,
        webhook_url=job.webhook_url,
        webhook_secret=job.webhook_secret,
        view=view_of(job),
    )


class JobQueue:
    def __init__(self, store: Store, *, max_attempts: int = 3, clock: Clock = time.time) -> None:
        self.store = store
        self.max_attempts = max_attempts
        self._clock = clock
        self._ids = JobIds()

    def submit(
        self,
        *,
        owner: str,
        kind: str,
        payload: Payload,
        request_hash: str,
        seconds: float = 0.0,
        idempotency_key: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> tuple[JobView, bool]:
        """Create a job; with an idempotency key an earlier job of this caller and key is
        returned instead. Returns (job, created)."""
        if idempotency_key is not None:
            found = self._by_key(owner, idempotency_key, request_hash)
            if found is not None:
                return found, False
        now = self._clock()
        job = Job(
            id=self._ids(now),
            owner=owner,
            kind=kind,
            status="queued",
            payload=payload,
            request_hash=request_hash,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            seconds=seconds,
            chunks_total=0,
            chunks_done=0,
            max_attempts=self.max_attempts,
            created_at=now,
            updated_at=now,
        )
        plan = Task(
            job_id=job.id,
            kind="plan",
            idx=0,
            payload=payload,
            seconds=seconds,
            status="queued",
            attempts=0,
            max_attempts=self.max_attempts,
            run_after=now,
            created_at=now,
        )
        try:
            with self.store.transaction() as session:
                session.add(job)
                session.flush()  # the job row first: the task's foreign key needs it
                session.add(plan)
                notify(session, self.store)
        except IntegrityError:
            # A concurrent request with the same key won the unique constraint.
            if idempotency_key is None:
                raise
            found = self._by_key(owner, idempotency_key, request_hash)
            if found is None:
                raise
            return found, False
        return view_of(job), True

    def _by_key(self, owner: str, key: str, request_hash: str) -> JobView | None:
        with self.store.transaction() as session:
            row = session.execute(
                select(*_VIEW_COLUMNS, Job.request_hash).where(
                    Job.owner == owner, Job.idempotency_key == key
                )
            ).first()
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise IdempotencyConflict("this Idempotency-Key was used with a different request body")
        return view_of(row)

    def get(self, job_id: str, owner: str) -> JobView:
        with self.store.transaction() as session:
            row = session.execute(
                select(*_VIEW_COLUMNS).where(Job.id == job_id, Job.owner == owner)
            ).first()
        if row is None:
            raise NotFound("no such job")  # also for other callers' jobs: no existence leak
        return view_of(row)

    def list(
        self, owner: str, *, limit: int = 20, after: str | None = None
    ) -> tuple[list[JobView], bool]:
        """Newest first; `after` is the last id of the previous page."""
        query = select(*_VIEW_COLUMNS).where(Job.owner == owner)
        if after:
            query = query.where(Job.id < after)
        query = query.order_by(Job.id.desc()).limit(limit + 1)
        with self.store.transaction() as session:
            rows = session.execute(query).all()
        return [view_of(r) for r in rows[:limit]], len(rows) > limit

    def cancel(self, job_id: str, owner: str) -> tuple[JobView, JobEnd | None]:
        """Cancel a job that has not ended; running tasks lose their leases (their heartbeat
        notices, and their fenced writes are refused)."""
        now = self._clock()
        with self.store.transaction() as session:
            job = session.scalars(select(Job).where(Job.id == job_id, Job.owner == owner)).first()
            if job is None:
                raise NotFound("no such job")
            if job.status in TERMINAL:
                return view_of(job), None
            # Tasks before the job row: the same lock order as workers, so no deadlock.
            session.execute(
                update(Task)
                .where(Task.job_id == job_id, Task.status.in_(("queued", "running")))
                .values(status="cancelled", lease_token=None, finished_at=now)
            )
            changed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(("queued", "running")))
                .values(status="cancelled", finished_at=now, updated_at=now)
            )
            session.refresh(job)
            if getattr(changed, "rowcount", 0) != 1:  # it ended meanwhile
                return view_of(job), None
            return view_of(job), end_of(job)

    def result(self, job_id: str, owner: str) -> Json:
        view = self.get(job_id, owner)
        if view.status != "succeeded":
            raise JobNotFinished(f"job {job_id} is {view.status}; it has no result")
        with self.store.transaction() as session:
            row = session.get(JobResult, job_id)
        if row is None:  # cannot happen: status and result commit together
            raise NotFound("no result for this job")
        return row.result
