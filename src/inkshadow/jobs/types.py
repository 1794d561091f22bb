"""What the queue hands around: the handler protocol, the registry and plain records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from inkshadow.errors import InkshadowError

Json = Any  # a JSON-serialisable value
Payload = dict[str, Any]
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TaskKind = Literal["plan", "chunk", "merge"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
NOTIFY_CHANNEL = "inkshadow_tasks"


class JobHandler(Protocol):
    """One kind of job. plan() splits a job into chunk payloads that any worker may run;
    merge() folds the chunk results (in plan order) into the job's result. Every method may
    run more than once for the same input (a worker can die mid-way), so they must not have
    effects beyond their return value."""

    def seconds(self, payload: Payload) -> float:
        """Seconds of video a job or chunk payload covers (0 when unknown): the backlog
        metric sums it over waiting work."""
        ...

    async def plan(self, payload: Payload) -> list[Payload]: ...

    async def run_chunk(self, payload: Payload) -> Json: ...

    async def merge(self, payload: Payload, results: list[Json]) -> Json: ...


class HandlerRegistry:
    """Job kinds a worker can run, by name."""

    def __init__(self, handlers: dict[str, JobHandler] | None = None) -> None:
        self._handlers: dict[str, JobHandler] = dict(handlers or {})

    def register(self, kind: str, handler: JobHandler) -> None:
        self._handlers[kind] = handler

    def get(self, kind: str) -> JobHandler | None:
        return self._handlers.get(kind)

    def __iter__(self) -> Iterator[str]:
        return iter(self._handlers)


class JobNotFinished(InkshadowError):
    status = 409
    type = "invalid_request_error"
    code = "job_not_finished"


class IdempotencyConflict(InkshadowError):
    status = 422
    type = "invalid_request_error"
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class JobView:
    """A job as clients see it."""

    id: str
    owner: str
    kind: str
    status: JobStatus
    chunks_done: int
    chunks_total: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    error_message: str | None
    error_code: str | None

    @property
    def progress(self) -> float:
        if self.status == "succeeded":
            return 1.0
        if self.chunks_total <= 0:
            return 0.0
        return min(1.0, self.chunks_done / self.chunks_total)

    def to_json(self) -> dict[str, Any]:
        error = None
        if self.error_message is not None:
            error = {"message": self.error_message, "code": self.error_code}
        return {
            "id": self.id,
            "object": "job",
            "status": self.status,
            "progress": round(self.progress, 4),
            "chunks": {"done": self.chunks_done, "total": self.chunks_total},
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": error,
        }


@dataclass(frozen=True)
class Lease:
    """A task a worker holds until lease expiry; `token` fences every write it makes."""

    task_id: int
    job_id: str
    job_kind: str
    kind: TaskKind
    idx: int
    payload: Payload
    attempts: int
    max_attempts: int
    token: str
    job_created_at: float
    claimed_at: float


@dataclass(frozen=True)
class JobEnd:
    """A job that just reached a terminal state (for webhooks and latency metrics)."""

    job_id: str
    status: JobStatus
    created_at: float
    finished_at: float
    webhook_url: str | None
    webhook_secret: str | None
    view: JobView
