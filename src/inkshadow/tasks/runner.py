"""Run a task over a video (in chunks when long) or over images, end to end:
sample → prompt → engine → parse → map to the original → merge → AnalysisResult."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from inkshadow.engine.types import (
    Engine,
    GenerationRequest,
    ImagePart,
    JsonSchemaFormat,
    Message,
    SamplingParams,
    TextPart,
    VideoPart,
    collect,
)
from inkshadow.errors import InvalidRequest
from inkshadow.families import Family
from inkshadow.media.decode import SampledVideo
from inkshadow.settings import Settings
from inkshadow.tasks.answers import Mapped, map_image_answer, map_video_answer
from inkshadow.tasks.chunks import merge_results, plan_chunks
from inkshadow.tasks.mapping import BoxFrame, image_input_size, timeline
from inkshadow.tasks.prompts import PromptContext, TaskPrompt, task_prompt
from inkshadow.tasks.schemas import TaskLimits
from inkshadow.tasks.types import (
    AnalysisResult,
    AnalyzeOptions,
    ChunkPolicy,
    FrameSource,
    Progress,
    ProgressFn,
    SamplingSummary,
    TaskSpec,
    VideoSummary,
)

TINY_WARNING = "random-weight test model: its answers are noise, not understanding"
CHUNK_CONCURRENCY = 4  # chunks in flight: lets the engine batch them, bounds frame memory
TEMPORAL_PATCH = 2  # both families merge two frames into one temporal patch


@dataclass(frozen=True)
class _Chunk:
    start: float | None
    end: float | None
    sampled: SampledVideo
    mapped: Mapped


def _check_vision(engine: Engine) -> Family:
    family = engine.info.family
    if not family.is_vision:
        raise InvalidRequest(f"the model {engine.info.model} reads text only", param="model")
    return family


async def _generate(
    engine: Engine, media: tuple[VideoPart, ...] | tuple[ImagePart, ...], prompt: TaskPrompt
) -> tuple[str, list[str]]:
    """The model's answer text, and a warning when it ran out of tokens."""
    params = SamplingParams(
        # Leave room for the media in the context; a bounded schema needs no more.
        max_tokens=max(16, min(prompt.max_tokens, engine.info.max_model_len // 4)),
        temperature=0.0,  # grounding wants the most likely answer, not a sample
        response_format=JsonSchemaFormat(prompt.schema, name="inkshadow_answer"),
    )
    message = Message("user", (*media, TextPart(prompt.text)))
    generation = await collect(engine.stream(GenerationRequest((message,), params)))
    if generation.finish_reason == "length":
        return generation.text, ["the answer was cut off at its token limit"]
    return generation.text, []


def _video_part(sampled: SampledVideo) -> VideoPart:
    plan, info = sampled.plan, sampled.info
    return VideoPart(
        frames=sampled.frames,
        timestamps=plan.timestamps,
        indices=plan.indices,
        sample_fps=plan.sample_fps,
        source_fps=info.fps,
        source_frames=info.frames,
        duration=info.duration,
    )


async def _run_chunk(
    engine: Engine, spec: TaskSpec, sampled: SampledVideo, limits: TaskLimits
) -> Mapped:
    family = engine.info.family
    plan, info = sampled.plan, sampled.info
    tl = timeline(family, plan.timestamps, info.duration)
    ctx = PromptContext(
        family=family,
        media="video",
        input_width=plan.width,
        input_height=plan.height,
        time_lo=tl.lo - tl.offset,
        time_hi=tl.hi - tl.offset,
        frames=len(plan.indices),
    )
    prompt = task_prompt(spec, ctx, limits)
    text, cut = await _generate(engine, (_video_part(sampled),), prompt)
    frame = BoxFrame(family, plan.width, plan.height, info.width, info.height)
    mapped = map_video_answer(spec, text, tl, frame)
    mapped.warnings[:0] = cut
    return mapped


def _windows(
    duration: float, options: AnalyzeOptions, settings: Settings
) -> list[tuple[float | None, float | None]]:
    """The clips to sample: the asked range whole, or overlapping chunks when it is long.
    A bound the client left open stays None so that sampling matches qwen-vl-utils."""
    start = None if options.start is None else min(max(options.start, 0.0), duration)
    end = None if options.end is None else min(max(options.end, 0.0), duration)
    lo, hi = start or 0.0, duration if end is None else end
    if hi <= lo:
        raise InvalidRequest(f"start {options.start} is not before end {options.end}", param="end")
    if hi - lo <= settings.chunk_seconds:
        return [(start, end)]
    policy = ChunkPolicy(
        settings.chunk_seconds, settings.chunk_overlap_s, settings.chunk_max_frames
    )
    return [(w.start, w.end) for w in plan_chunks(lo, hi, policy)]


def _visual_tokens(sampled: SampledVideo, factor: int) -> int:
    plan = sampled.plan
    patches = math.ceil(len(plan.indices) / TEMPORAL_PATCH)
    return patches * (plan.height // factor) * (plan.width // factor)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _joined(chunks: Sequence[_Chunk], pick: str) -> str:
    """One text from the chunks' texts; with several chunks each line names its range."""
    texts = [(c, getattr(c.mapped, pick)) for c in chunks]
    if len(chunks) == 1:
        return str(texts[0][1])
    return "\n".join(
        f"[{c.sampled.plan.timestamps[0]:.1f}-{c.sampled.plan.timestamps[-1]:.1f} s] {t}"
        for c, t in texts
        if t
    )


async def analyze_video(
    engine: Engine,
    source: FrameSource,
    spec: TaskSpec,
    options: AnalyzeOptions,
    settings: Settings,
    *,
    on_progress: ProgressFn | None = None,
    limits: TaskLimits | None = None,
) -> AnalysisResult:
    """Answer `spec` about the video of `source`; results on its original timeline and in
    its original pixels."""
    family = _check_vision(engine)
    limits = limits or TaskLimits()
    info = source.info
    fps = options.fps if options.fps is not None else settings.video_fps
    if fps <= 0:
        raise InvalidRequest("fps must be positive", param="fps")
    max_frames = min(options.max_frames or settings.video_max_frames, settings.video_max_frames)
    windows = _windows(info.duration, options, settings)
    if len(windows) > 1:
        max_frames = min(max_frames, settings.chunk_max_frames)
    total = len(windows)
    done = 0
    gate = asyncio.Semaphore(CHUNK_CONCURRENCY)
    if on_progress is not None:
        on_progress(Progress(0, total))

    async def run(start: float | None, end: float | None) -> _Chunk:
        nonlocal done
        async with gate:
            sampled = await source.sample(fps=fps, max_frames=max_frames, start=start, end=end)
            mapped = await _run_chunk(engine, spec, sampled, limits)
        done += 1
        if on_progress is not None:
            on_progress(Progress(done, total))
        return _Chunk(start, end, sampled, mapped)

    chunks = await asyncio.gather(*(run(s, e) for s, e in windows))
    first = chunks[0].sampled
    warnings = [TINY_WARNING] if engine.info.tiny else []
    for chunk in chunks:
        warnings.extend(chunk.mapped.warnings)
    result = AnalysisResult(
        task=spec.task,
        video=VideoSummary(
            duration=info.duration, fps=info.fps, width=info.width, height=info.height
        ),
        sampling=SamplingSummary(
            frames=sum(len(c.sampled.plan.indices) for c in chunks),
            fps=first.plan.sample_fps,
            width=first.plan.width,
            height=first.plan.height,
            visual_tokens=sum(_visual_tokens(c.sampled, family.patch_factor) for c in chunks),
        ),
        results=merge_results(
            spec.task, [c.mapped.results for c in chunks], step_s=1.0 / first.plan.sample_fps
        ),
        model=engine.info.model,
        warnings=_unique(warnings),
    )
    if len(chunks) > 1:
        result.extra["chunks"] = [
            {"start": c.sampled.plan.timestamps[0], "end": c.sampled.plan.timestamps[-1]}
            for c in chunks
        ]
    if spec.task == "ask":
        result.text = _joined(chunks, "answer")
        if spec.style == "poetic":
            result.extra["verse"] = _joined(chunks, "verse")
    elif spec.task == "describe":
        result.text = _joined(chunks, "summary")
        result.extra["summary"] = result.text
    return result


async def analyze_images(
    engine: Engine,
    images: list[Image.Image],
    spec: TaskSpec,
    settings: Settings,
    *,
    input_sizes: Sequence[tuple[int, int]] | None = None,
    limits: TaskLimits | None = None,
) -> AnalysisResult:
    """Answer `spec` (ask, spatial, describe) about images; boxes in original image pixels.

    input_sizes: (width, height) the engine's image processor resizes each image to, which
    Qwen2.5-VL's pixel boxes refer to. Default: the family's released processor budget
    (`image_input_size`); pass the real sizes when the model folder sets other pixel
    limits."""
    del settings  # image limits were checked when the images were loaded
    family = _check_vision(engine)
    if not images:
        raise InvalidRequest("no images to analyse", param="images")
    if spec.task not in ("ask", "spatial", "describe"):
        raise InvalidRequest(f"the {spec.task} task needs a video", param="task")
    limits = limits or TaskLimits()
    sizes = list(input_sizes or [image_input_size(family, *im.size) for im in images])
    if len(sizes) != len(images):
        raise InvalidRequest("one input size per image is needed", param="input_sizes")
    frames = [
        BoxFrame(family, w, h, im.width, im.height)
        for (w, h), im in zip(sizes, images, strict=True)
    ]
    ctx = PromptContext(
        family=family,
        media="images",
        input_width=sizes[0][0],
        input_height=sizes[0][1],
        images=len(images),
    )
    prompt = task_prompt(spec, ctx, limits)
    content = tuple(ImagePart(im.convert("RGB")) for im in images)
    text, cut = await _generate(engine, content, prompt)
    mapped = map_image_answer(spec, text, frames)
    warnings = [TINY_WARNING] if engine.info.tiny else []
    result = AnalysisResult(
        task=spec.task,
        results=mapped.results,
        model=engine.info.model,
        warnings=_unique([*warnings, *cut, *mapped.warnings]),
    )
    if spec.task == "ask":
        result.text = mapped.answer
        if spec.style == "poetic":
            result.extra["verse"] = mapped.verse
    elif spec.task == "describe":
        result.text = mapped.summary
        result.extra["summary"] = mapped.summary
    return result
