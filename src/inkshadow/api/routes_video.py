"""Video understanding routes: `POST /v1/video/analyze` and the guide's `POST /process`.

Both answer an `AnalysisResult` (task, video, sampling, results mapped onto the original
video, text, model, warnings). The video is a URL (http(s), data:, file:// when enabled) or
a `file-<sha256>` id from `POST /v1/files`; either way it lands in the blob store, so a
second question about it reuses the stored bytes and the cached frames.

`/process` takes `{"video_url": ..., "query": ...}` as in the guide. Its task is `ask` (a
free answer) unless the body names one with `task`, since a guide query such as
"检测运动物体" can mean any of them and only `ask` is right for every query.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from inkshadow.api.state import TINY_WARNING, AppState
from inkshadow.cache.results import result_key
from inkshadow.errors import InvalidRequest, ModelNotFound
from inkshadow.media.images import check_image, load_image
from inkshadow.tasks.runner import analyze_images, analyze_video
from inkshadow.tasks.schemas import ANSWER_SCHEMA_VERSION
from inkshadow.tasks.types import AnalysisResult, AnalyzeOptions, Style, TaskName, TaskSpec

router = APIRouter()


class _Sampling(BaseModel):
    # Clients send fields we do not use (user, metadata, ...): ignore, do not fail.
    model_config = ConfigDict(extra="ignore")

    query: str = Field(min_length=1, max_length=4000)
    task: TaskName = "ask"
    style: Style = "plain"
    model: str | None = None
    fps: float | None = Field(None, gt=0, le=60)
    max_frames: int | None = Field(None, ge=2)
    start: float | None = Field(None, ge=0)
    end: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _clip(self) -> _Sampling:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def spec(self) -> TaskSpec:
        return TaskSpec(task=self.task, query=self.query, style=self.style)

    def options(self) -> AnalyzeOptions:
        return AnalyzeOptions(
            fps=self.fps, max_frames=self.max_frames, start=self.start, end=self.end
        )


class AnalyzeBody(_Sampling):
    """One of: `video` (URL or file id), `file_id`, or `images` (URLs or file ids)."""

    video: str | None = Field(None, min_length=1)
    file_id: str | None = Field(None, min_length=1)
    images: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> AnalyzeBody:
        given = [x for x in (self.video, self.file_id, self.images) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of video, file_id or images")
        return self


class ProcessBody(_Sampling):
    video_url: str = Field(min_length=1)


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.ink
    return state


def _check(state: AppState, model: str | None) -> None:
    info = state.engine.info
    if model and model != info.model:
        raise ModelNotFound(
            f"model {model!r} is not served here; this server serves {info.model!r}",
            param="model",
        )
    if not info.family.is_vision:
        raise InvalidRequest("this model reads text only; video analysis needs a VL model")


def _finish(state: AppState, result: AnalysisResult) -> dict[str, Any]:
    info = state.engine.info
    if not result.model:
        result.model = info.model
    if info.tiny and not any(w.startswith("random-weight") for w in result.warnings):
        # Random weights: the JSON is valid and in bounds, its content means nothing.
        result.warnings.insert(0, TINY_WARNING)
    return result.model_dump(mode="json")


def _cache_key(state: AppState, request: Request, media: list[str], body: _Sampling) -> str:
    """Everything that can change the answer: the media bytes (their hashes, so other bytes
    or dimensions never collide), task, query, style, sampling asked for and the server's
    sampling and chunking defaults, the model, the task's answer schema version, and the
    caller's tenant."""
    s = state.settings
    return result_key(
        media=media,
        task=body.task,
        query=body.query,
        style=body.style,
        sampling=dataclasses.asdict(body.options()),
        defaults=[
            s.video_fps,
            s.video_max_frames,
            s.exact_resize,
            s.chunk_seconds,
            s.chunk_overlap_s,
            s.chunk_max_frames,
            s.max_model_len,
        ],
        model=state.engine.info.model,
        schema=ANSWER_SCHEMA_VERSION,
        tenant=str(getattr(request.state, "tenant", "anonymous")),
    )


async def _answer(
    state: AppState, key: str, response: Response, compute: Callable[[], Awaitable[AnalysisResult]]
) -> dict[str, Any]:
    """A cached answer when there is one (header x-inkshadow-cache: hit), else computed and
    kept. A cache that is down is a miss, never an error."""
    cache = state.results
    hit = await cache.get(key) if cache is not None else None
    if hit is not None:
        response.headers["x-inkshadow-cache"] = "hit"
        return hit
    answer = _finish(state, await compute())
    if cache is not None:
        await cache.put(key, answer)
        response.headers["x-inkshadow-cache"] = "miss"
    return answer


async def _video(
    state: AppState, request: Request, response: Response, ref: str, param: str, body: _Sampling
) -> dict[str, Any]:
    s = state.settings
    blob = await state.library.ingest(ref, max_bytes=s.video_max_bytes, param=param)

    async def compute() -> AnalysisResult:
        source = await state.library.open_video(blob, state.engine.info.family)
        if body.start is not None and body.start >= source.info.duration:
            raise InvalidRequest(
                f"start {body.start} s is past the end of the video ({source.info.duration:.2f} s)",
                param="start",
            )
        return await analyze_video(state.engine, source, body.spec(), body.options(), s)

    key = _cache_key(state, request, [blob.sha256], body)
    return await _answer(state, key, response, compute)


async def _images(
    state: AppState, request: Request, response: Response, refs: list[str], body: _Sampling
) -> dict[str, Any]:
    s = state.settings
    if len(refs) > s.max_media_parts:
        raise InvalidRequest(
            f"{len(refs)} images; the limit is {s.max_media_parts}", param="images"
        )
    blobs = [await state.library.ingest(ref, param="images") for ref in refs]

    async def compute() -> AnalysisResult:
        loaded = []
        for blob in blobs:
            path = await asyncio.to_thread(state.library.store.local_path, blob.sha256)
            check_image(path, s)
            loaded.append(await asyncio.to_thread(load_image, path, s))
        return await analyze_images(state.engine, loaded, body.spec(), s)

    key = _cache_key(state, request, [b.sha256 for b in blobs], body)
    return await _answer(state, key, response, compute)


@router.post("/v1/video/analyze")
async def analyze(body: AnalyzeBody, request: Request, response: Response) -> dict[str, Any]:
    state = _state(request)
    _check(state, body.model)
    if body.images is not None:
        return await _images(state, request, response, body.images, body)
    if body.file_id is not None:
        return await _video(state, request, response, body.file_id, "file_id", body)
    assert body.video is not None  # the validator saw to it
    return await _video(state, request, response, body.video, "video", body)


@router.post("/process")
async def process(body: ProcessBody, request: Request, response: Response) -> dict[str, Any]:
    state = _state(request)
    _check(state, body.model)
    return await _video(state, request, response, body.video_url, "video_url", body)
