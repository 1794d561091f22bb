"""The `video` job kind: the body of /v1/video/analyze, run by workers.

plan: fetch the video once into the blob store and cut the asked range into overlapping
chunks (tasks/chunks.py); each chunk names the video by its `file-<sha256>` id, so any
worker sharing the blob store (a shared volume or S3) reads the same bytes. run_chunk:
`analyze_video` over one window. merge: one AnalysisResult from the chunks' results."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from inkshadow.engine.types import Engine
from inkshadow.jobs.types import HandlerRegistry, Json, Payload
from inkshadow.media.library import MediaLibrary, file_id
from inkshadow.settings import Settings
from inkshadow.tasks.chunks import merge_results, plan_chunks
from inkshadow.tasks.types import (
    AnalysisResult,
    AnalyzeOptions,
    ChunkPolicy,
    SamplingSummary,
    TaskSpec,
)

log = logging.getLogger(__name__)
Closer = Callable[[], Awaitable[None]]


class VideoJobHandler:
    def __init__(self, settings: Settings, engine: Engine, library: MediaLibrary) -> None:
        self._settings = settings
        # Chunks are already cut to size: the runner must not cut them again.
        self._chunk_settings = settings.model_copy(update={"chunk_seconds": 1e12})
        self._engine = engine
        self._library = library

    def seconds(self, payload: Payload) -> float:
        """Seconds of video a task covers, for the backlog metric: known once planned."""
        if payload.get("seconds") is not None:
            return max(0.0, float(payload["seconds"]))
        end = payload.get("end")
        return max(0.0, float(end) - float(payload.get("start") or 0.0)) if end else 0.0

    async def _source(self, ref: str) -> tuple[str, Any]:
        blob = await self._library.ingest(ref, max_bytes=self._settings.video_max_bytes)
        source = await self._library.open_video(blob, self._engine.info.family)
        return file_id(blob.sha256), source

    async def plan(self, payload: Payload) -> list[Payload]:
        ref = payload.get("video") or payload.get("file_id") or ""
        fid, source = await self._source(str(ref))
        duration = float(source.info.duration)
        lo = min(max(float(payload.get("start") or 0.0), 0.0), duration)
        hi = min(float(payload.get("end") or duration), duration)
        base = {k: v for k, v in payload.items() if k not in ("video", "file_id")}
        s = self._settings
        if hi - lo <= s.chunk_seconds:
            # Start and end stay as asked (None samples as qwen-vl-utils would); the probed
            # length goes along for the backlog metric.
            return [{**base, "video": fid, "seconds": hi - lo}]
        policy = ChunkPolicy(s.chunk_seconds, s.chunk_overlap_s, s.chunk_max_frames)
        cap = min(int(payload.get("max_frames") or s.chunk_max_frames), s.chunk_max_frames)
        return [
            {**base, "video": fid, "start": w.start, "end": w.end, "max_frames": cap}
            for w in plan_chunks(lo, hi, policy)
        ]

    async def run_chunk(self, payload: Payload) -> Json:
        from inkshadow.tasks.runner import analyze_video

        _, source = await self._source(str(payload["video"]))
        spec = TaskSpec(payload["task"], payload["query"], payload.get("style", "plain"))
        options = AnalyzeOptions(
            fps=payload.get("fps"),
            max_frames=payload.get("max_frames"),
            start=payload.get("start"),
            end=payload.get("end"),
        )
        result = await analyze_video(self._engine, source, spec, options, self._chunk_settings)
        if options.start is not None or options.end is not None:
            result.extra["window"] = {"start": options.start, "end": options.end}
        return result.model_dump(mode="json")

    async def merge(self, payload: Payload, results: list[Json]) -> Json:
        parts = [AnalysisResult.model_validate(r) for r in results]
        if len(parts) == 1:
            return results[0]
        first = parts[0]
        rate = first.sampling.fps if first.sampling is not None else 0.0
        merged = AnalysisResult(
            task=first.task,
            video=first.video,
            results=merge_results(
                first.task, [p.results for p in parts], step_s=1.0 / rate if rate > 0 else 0.0
            ),
            model=first.model,
            warnings=list(dict.fromkeys(w for p in parts for w in p.warnings)),
        )
        sampled = [p.sampling for p in parts if p.sampling is not None]
        if sampled:
            merged.sampling = SamplingSummary(
                frames=sum(x.frames for x in sampled),
                fps=sampled[0].fps,
                width=sampled[0].width,
                height=sampled[0].height,
                visual_tokens=sum(x.visual_tokens for x in sampled),
            )
        windows = [p.extra.get("window") or {} for p in parts]
        spans = [(w.get("start"), w.get("end")) for w in windows]
        merged.extra["chunks"] = [{"start": a, "end": b} for a, b in spans]
        texts = [p.text for p in parts]
        if any(texts):
            merged.text = "\n".join(
                f"[{a or 0:.1f}-{b or 0:.1f} s] {t}" for (a, b), t in zip(spans, texts, strict=True)
                if t
            )  # fmt: skip
            if first.task == "describe":
                merged.extra["summary"] = merged.text
        return merged.model_dump(mode="json")


async def build_video_handlers(settings: Settings) -> tuple[HandlerRegistry, Closer]:
    """The registry `inkshadow worker` runs: the `video` kind on the configured engine."""
    from inkshadow.engine.factory import build_engine
    from inkshadow.media.blobs import open_blob_store
    from inkshadow.media.fetch import MediaFetcher
    from inkshadow.media.frame_cache import open_frame_cache

    engine = build_engine(settings)
    await engine.start()
    if engine.info.tiny:
        log.warning("running jobs on a random-weight test model; answers mean nothing")
    fetcher = MediaFetcher(settings)
    library = MediaLibrary(settings, open_blob_store(settings), fetcher, open_frame_cache(settings))

    async def close() -> None:
        await fetcher.aclose()
        await engine.close()

    return HandlerRegistry({"video": VideoJobHandler(settings, engine, library)}), close
