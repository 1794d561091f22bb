"""`inkshadow analyze --server URL`: the same analysis asked of a running server, over its
public API. A local file is uploaded (`POST /v1/files`); a long video runs as a job whose
progress is followed (`POST /v1/jobs`, `GET /v1/jobs/{id}`), a short one is answered at once
(`POST /v1/video/analyze`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import typer

from inkshadow.cli_progress import ChunkProgress
from inkshadow.client import ApiClient, ApiError
from inkshadow.errors import InkshadowError
from inkshadow.media.video import probe_video
from inkshadow.settings import Settings
from inkshadow.tasks.types import Progress, TaskSpec

POLL_S = 0.5
NO_WORKER_HINT_S = 15.0  # queued this long: say that a worker may be missing


class RemoteError(InkshadowError):
    """The server refused or failed; the message is the server's own (OpenAI error body)."""


def _clip_seconds(path: Path, options: dict[str, Any]) -> float:
    duration = probe_video(path).duration
    start = options.get("start") or 0.0
    end = options.get("end")
    return max(0.0, (duration if end is None else min(end, duration)) - start)


async def analyze_on_server(
    base_url: str,
    video: str,
    local: Path | None,
    spec: TaskSpec,
    options: dict[str, Any],
    settings: Settings,
    job: bool | None,
) -> dict[str, Any]:
    """`local`: the video as a file here (uploaded first), or None for a URL or file id the
    server resolves itself."""
    key = settings.client_api_key.get_secret_value() if settings.client_api_key else None
    client = ApiClient(base_url, key)
    try:
        if local is not None:
            long = _clip_seconds(local, options) > settings.chunk_seconds
            ref = await client.upload(local)
        else:
            long, ref = False, video  # a URL or file id: the server fetches and probes it
        body = {
            "video": ref,
            "task": spec.task,
            "query": spec.query,
            "style": spec.style,
            **{k: v for k, v in options.items() if v is not None},
        }
        if not (job if job is not None else long):
            return await client.analyze(body)
        return await _follow_job(client, body)
    except ApiError as exc:
        raise RemoteError(exc.message) from None


async def _follow_job(client: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    created = await client.submit_job(body)
    job_id = str(created["id"])
    typer.secho(f"job {job_id} submitted", err=True)
    queued_since = time.monotonic()
    hinted = False
    with ChunkProgress(f"job {job_id}") as progress:
        while True:
            state = await client.job(job_id)
            status = state.get("status")
            chunks = state.get("chunks") or {}
            progress.note(str(status))
            progress(Progress(int(chunks.get("done") or 0), int(chunks.get("total") or 0)))
            if status == "succeeded":
                return await client.job_result(job_id)
            if status in ("failed", "cancelled"):
                error = state.get("error") or {}
                raise RemoteError(f"job {job_id} {status}: {error.get('message') or 'no reason'}")
            waited = time.monotonic() - queued_since
            if status == "queued" and not hinted and waited > NO_WORKER_HINT_S:
                typer.secho(
                    "still queued: is a worker running? (`inkshadow worker`, or serve "
                    "with `inkshadow up`)",
                    fg=typer.colors.YELLOW,
                    err=True,
                )
                hinted = True
            await asyncio.sleep(POLL_S)
