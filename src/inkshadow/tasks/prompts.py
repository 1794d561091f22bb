"""What each task asks of each model family: the prompt and the answer's JSON schema.

The wording follows the families' own grounding prompts (the Qwen2.5-VL and Qwen3-VL
cookbooks): Qwen2.5-VL gives boxes in absolute pixels of the image it sees and times in
seconds from the start of the clip; Qwen3-VL gives boxes on a 0-1000 grid and reads times
from the "<t seconds>" markers before each frame. Queries may be in any language (Chinese
included); answers follow the language of the query.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Literal

from inkshadow.errors import InvalidRequest
from inkshadow.families import Family
from inkshadow.tasks.mapping import QWEN3_BOX_SCALE
from inkshadow.tasks.schemas import (
    Schema,
    TaskLimits,
    array,
    box,
    obj,
    seconds,
    string,
    token_budget,
)
from inkshadow.tasks.types import TaskSpec

_LANGUAGE = "Answer in the language of the query (请用提问所用的语言回答)."


@dataclass(frozen=True)
class PromptContext:
    """What the prompt must tell the model about its input."""

    family: Family
    media: Literal["video", "images"]
    input_width: int  # the model's input frame size (Qwen2.5-VL box coordinates)
    input_height: int
    time_lo: float = 0.0  # the range of times the model can name, in its own time base
    time_hi: float = 0.0
    frames: int = 0  # sampled frames (track: at most one box per frame)
    images: int = 1


@dataclass(frozen=True)
class TaskPrompt:
    text: str
    schema: Schema
    max_tokens: int


def _boxes_note(ctx: PromptContext) -> str:
    if ctx.family is Family.QWEN3_VL:
        return "bbox_2d is [x1, y1, x2, y2] in relative coordinates from 0 to 1000"
    if ctx.media == "images" and ctx.images > 1:
        return "bbox_2d is [x1, y1, x2, y2] in absolute pixels of the image as you see it"
    seen = "frames" if ctx.media == "video" else "image"
    return (
        f"bbox_2d is [x1, y1, x2, y2] in absolute pixels of the "
        f"{ctx.input_width}x{ctx.input_height} {seen}"
    )


def _times_note(ctx: PromptContext) -> str:
    if ctx.family is Family.QWEN3_VL:
        return (
            f"Times are in seconds, read from the <t seconds> marks before the frames "
            f"({ctx.time_lo:.1f} to {ctx.time_hi:.1f})"
        )
    return f"Times are in seconds from the start of this video (0.0 to {ctx.time_hi:.1f})"


def _time(ctx: PromptContext) -> Schema:
    return seconds(math.floor(ctx.time_lo * 10) / 10, math.ceil(ctx.time_hi * 10) / 10)


def _box(ctx: PromptContext) -> Schema:
    if ctx.family is Family.QWEN3_VL:
        return box(int(QWEN3_BOX_SCALE), int(QWEN3_BOX_SCALE))
    return box(ctx.input_width, ctx.input_height)


def _prompt(text: str, schema: Schema) -> TaskPrompt:
    example = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    # The schema is stated in the prompt too: remote upstreams may not enforce it.
    full = f"{text}\nReply with JSON only, matching this JSON schema: {example}"
    return TaskPrompt(full, schema, token_budget(schema) + 8)


def task_prompt(spec: TaskSpec, ctx: PromptContext, limits: TaskLimits) -> TaskPrompt:
    """The prompt and schema for `spec` on this input."""
    query = spec.query.strip()
    video = ctx.media == "video"
    if spec.task == "ask":
        props = {"answer": string(limits.answer_chars)}
        text = f"{query}\n{_LANGUAGE}"
        if spec.style == "poetic":
            props["verse"] = string(limits.verse_chars)
            text += (
                '\nGive the plain answer in "answer", then render it as a short poem of '
                'two to four lines in "verse" (诗意化响应).'
            )
        return _prompt(text, obj(**props))
    if spec.task in ("temporal", "track") and not video:
        raise InvalidRequest(f"the {spec.task} task needs a video", param="task")
    if spec.task == "temporal":
        item = obj(start=_time(ctx), end=_time(ctx), label=string(limits.label_chars))
        text = (
            f'Give the query: "{query}", when does the described content occur in the '
            f"video? List every time it happens as start and end. {_times_note(ctx)}. "
            f"{_LANGUAGE}"
        )
        return _prompt(text, obj(events=array(item, limits.max_spans)))
    if spec.task == "spatial":
        props = {"bbox_2d": _box(ctx), "label": string(limits.label_chars)}
        where = "image"
        if video:
            props = {"time": _time(ctx), **props}
            where = "video; give the time of the frame each box is drawn on"
        elif ctx.images > 1:
            props = {"image": {"type": "integer", "minimum": 0, "maximum": ctx.images - 1}, **props}
            where = "images; give the index (from 0) of the image each box is in"
        note = f"{_boxes_note(ctx)}. {_times_note(ctx)}." if video else f"{_boxes_note(ctx)}."
        text = (
            f'Locate every "{query}" in the {where}, output the bbox coordinates in JSON '
            f"format. {note} {_LANGUAGE}"
        )
        return _prompt(text, array(obj(**props), limits.max_boxes))
    if spec.task == "track":
        item = obj(time=_time(ctx), bbox_2d=_box(ctx), label=string(limits.label_chars))
        text = (
            f'Given the query "{query}", for each frame, detect and localize the visual '
            "content described by the given textual query in JSON format. If the visual "
            f"content does not exist in a frame, skip that frame. {_boxes_note(ctx)}. "
            f"{_times_note(ctx)}."
        )
        most = max(1, min(limits.max_track, ctx.frames or limits.max_track))
        return _prompt(text, array(item, most))
    # describe
    focus = f' Focus on: "{query}".' if query else ""
    if not video:
        text = f"Describe the image{'s' if ctx.images > 1 else ''} in detail.{focus} {_LANGUAGE}"
        return _prompt(text, obj(summary=string(limits.summary_chars)))
    item = obj(start=_time(ctx), end=_time(ctx), description=string(limits.description_chars))
    text = (
        "Localize a series of activity events in the video, output the start and end "
        "timestamp for each event, and describe each event with sentences; then summarize "
        f"the whole video.{focus} {_times_note(ctx)}. {_LANGUAGE}"
    )
    return _prompt(
        text,
        obj(summary=string(limits.summary_chars), events=array(item, limits.max_spans)),
    )
