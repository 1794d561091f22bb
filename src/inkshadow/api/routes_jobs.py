"""Durable video jobs: `POST /v1/jobs` (the body of /v1/video/analyze, plus an optional
webhook), `GET /v1/jobs/{id}`, `GET /v1/jobs/{id}/result`, `DELETE /v1/jobs/{id}` and
`GET /v1/jobs` (the caller's jobs, newest first, cursor pagination).

Routes are plain functions: FastAPI runs them in its thread pool, where the blocking
database calls belong. Jobs belong to the caller's tenant (API key id, or anonymous); other
tenants' jobs answer 404."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field, model_validator

from inkshadow.api.routes_video import AnalyzeBody
from inkshadow.api.state import AppState
from inkshadow.errors import InvalidRequest, ServiceUnavailable
from inkshadow.jobs.runtime import JobsRuntime
from inkshadow.media.netguard import check_http_url

router = APIRouter()
VIDEO_KIND = "video"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, as Stripe-style keys are


class JobBody(AnalyzeBody):
    webhook_url: str | None = Field(None, min_length=1, max_length=2048)
    webhook_secret: str | None = Field(None, min_length=16, max_length=256)

    @model_validator(mode="after")
    def _video_only(self) -> JobBody:
        if self.images is not None:
            raise ValueError("jobs analyse a video: give video or file_id, not images")
        return self


def _runtime(request: Request) -> tuple[JobsRuntime, str]:
    state: AppState = request.app.state.ink
    if state.jobs is None:
        raise ServiceUnavailable("jobs are not configured on this server")
    if state.jobs.refusal is not None:
        raise ServiceUnavailable(state.jobs.refusal, retry_after=60.0)
    return state.jobs, str(getattr(request.state, "tenant", "anonymous"))


def _payload(body: JobBody) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude_none=True, exclude={"webhook_secret"})


def _seconds(body: JobBody) -> float:
    """Known length of the asked range, for the backlog metric (0: known after planning)."""
    if body.end is None:
        return 0.0
    return max(0.0, body.end - (body.start or 0.0))


@router.post("/v1/jobs", status_code=202)
def submit(
    body: JobBody,
    request: Request,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    runtime, tenant = _runtime(request)
    if idempotency_key is not None and not _KEY.match(idempotency_key):
        raise InvalidRequest("Idempotency-Key must be 1-255 printable ASCII characters")
    if body.webhook_url is not None:
        check_http_url(body.webhook_url)  # the address is checked again when posting
    payload = _payload(body)
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    job, created = runtime.queue.submit(
        owner=tenant,
        kind=VIDEO_KIND,
        payload={k: v for k, v in payload.items() if k != "webhook_url"},
        request_hash=digest,
        seconds=_seconds(body),
        idempotency_key=idempotency_key,
        webhook_url=body.webhook_url,
        webhook_secret=body.webhook_secret,
    )
    headers = {"location": f"/v1/jobs/{job.id}"}
    if not created:
        headers["idempotent-replayed"] = "true"
    return JSONResponse(job.to_json(), status_code=202, headers=headers)


@router.get("/v1/jobs")
def list_jobs(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    runtime, tenant = _runtime(request)
    jobs, more = runtime.queue.list(tenant, limit=limit, after=after)
    return {
        "object": "list",
        "data": [j.to_json() for j in jobs],
        "has_more": more,
        "next_cursor": jobs[-1].id if more and jobs else None,
    }


@router.get("/v1/jobs/{job_id}")
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    runtime, tenant = _runtime(request)
    return runtime.queue.get(job_id, tenant).to_json()


@router.get("/v1/jobs/{job_id}/result")
def get_result(job_id: str, request: Request) -> Any:
    runtime, tenant = _runtime(request)
    return runtime.queue.result(job_id, tenant)


@router.delete("/v1/jobs/{job_id}")
def cancel_job(job_id: str, request: Request, background: BackgroundTasks) -> dict[str, Any]:
    runtime, tenant = _runtime(request)
    job, end = runtime.queue.cancel(job_id, tenant)
    if end is not None and end.webhook_url:
        background.add_task(runtime.webhooks.send, end)
    return job.to_json()
