"""PostgreSQL fast path for the two statements every job runs: claim, and finishing a
one-chunk job. Each is one data-modifying CTE sent in autocommit, so it costs one round
trip instead of five (BEGIN, several statements, COMMIT); the semantics are those of the
portable versions in leases.py (SKIP LOCKED pick, lease-token fence, result and status in
one atomic statement)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from inkshadow.jobs.types import JobEnd, JobView, Json, Lease, Payload
from inkshadow.store.engine import Store

_CLAIM = text("""
WITH picked AS (
  SELECT id FROM tasks WHERE status = 'queued' AND run_after <= :now
  ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE tasks t SET status = 'running', attempts = t.attempts + 1, lease_owner = :owner,
    lease_token = :token, lease_expires = :expires, started_at = coalesce(t.started_at, :now)
  WHERE t.id = (SELECT id FROM picked)
  RETURNING t.id, t.job_id, t.kind, t.idx, t.payload, t.attempts, t.max_attempts
), started AS (
  UPDATE jobs j SET status = 'running', started_at = :now, updated_at = :now
  WHERE j.id = (SELECT job_id FROM claimed WHERE kind = 'plan') AND j.status = 'queued'
)
SELECT c.*, j.kind AS job_kind, j.created_at AS job_created_at
FROM claimed c JOIN jobs j ON j.id = c.job_id
""")

_FINISH_INLINE = text("""
WITH t AS (
  UPDATE tasks SET status = 'done', finished_at = :now, lease_token = NULL,
    lease_expires = NULL
  WHERE id = CAST(:task_id AS bigint) AND lease_token = :token AND status = 'running'
  RETURNING job_id, max_attempts
), j AS (
  UPDATE jobs SET status = 'succeeded', chunks_total = :n, chunks_done = :n,
    finished_at = :now, updated_at = :now
  WHERE jobs.id = (SELECT job_id FROM t) AND jobs.status = 'running'
  RETURNING jobs.id, jobs.owner, jobs.kind, jobs.created_at, jobs.started_at,
    jobs.webhook_url, jobs.webhook_secret
), r AS (
  INSERT INTO job_results (job_id, result, created_at)
  SELECT id, CAST(:merged AS jsonb), :now FROM j
), c AS (
  INSERT INTO tasks (job_id, kind, idx, payload, seconds, status, attempts, max_attempts,
    run_after, result, created_at, started_at, finished_at)
  SELECT t.job_id, 'chunk', 0, CAST(:chunk AS jsonb), :seconds, 'done', 1, t.max_attempts,
    :now, CAST(:chunk_result AS jsonb), :now, :now, :now
  FROM t WHERE :n = 1
)
SELECT j.* FROM j
""")


def claim(store: Store, owner: str, token: str, now: float, lease_s: float) -> Lease | None:
    params = {"now": now, "owner": owner, "token": token, "expires": now + lease_s}
    with store.autocommit() as conn:
        row = conn.execute(_CLAIM, params).first()
    if row is None:
        return None
    return Lease(
        task_id=row.id, job_id=row.job_id, job_kind=row.job_kind, kind=row.kind, idx=row.idx,
        payload=row.payload, attempts=row.attempts, max_attempts=row.max_attempts,
        token=token, job_created_at=row.job_created_at, claimed_at=now,
    )  # fmt: skip


def finish_inline(
    store: Store,
    lease: Lease,
    chunk: tuple[Payload, float, Json] | None,
    merged: Json,
    now: float,
) -> JobEnd | None:
    params: dict[str, Any] = {
        "now": now, "task_id": lease.task_id, "token": lease.token,
        "n": 0 if chunk is None else 1, "merged": json.dumps(merged),
        "chunk": json.dumps(chunk[0] if chunk else {}),
        "seconds": chunk[1] if chunk else 0.0,
        "chunk_result": json.dumps(chunk[2] if chunk else None),
    }  # fmt: skip
    with store.autocommit() as conn:
        row = conn.execute(_FINISH_INLINE, params).first()
    if row is None:  # the fence held (lease lost) or the job was cancelled meanwhile
        return None
    n = params["n"]
    view = JobView(
        id=row.id, owner=row.owner, kind=row.kind, status="succeeded", chunks_done=n,
        chunks_total=n, created_at=row.created_at, started_at=row.started_at,
        finished_at=now, error_message=None, error_code=None,
    )  # fmt: skip
    return JobEnd(
        job_id=row.id, status="succeeded", created_at=row.created_at, finished_at=now,
        webhook_url=row.webhook_url, webhook_secret=row.webhook_secret, view=view,
    )  # fmt: skip
