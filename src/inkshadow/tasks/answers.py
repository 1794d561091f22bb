"""Turn one parsed answer into result records on the original video or images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from inkshadow.tasks.mapping import (
    BoxFrame,
    Timeline,
    map_box,
    map_span,
    nearest_frame_time,
    span_note,
)
from inkshadow.tasks.parse import Parsed, parse_answer, parse_boxes, parse_spans
from inkshadow.tasks.types import TaskSpec


@dataclass
class Mapped:
    results: list[dict[str, Any]] = field(default_factory=list)
    answer: str = ""
    verse: str = ""
    summary: str = ""
    warnings: list[str] = field(default_factory=list)


def parse_for(task: str, text: str) -> Parsed:
    if task in ("temporal", "describe"):
        return parse_spans(text)
    if task in ("spatial", "track"):
        return parse_boxes(text)
    return parse_answer(text)


def map_video_answer(spec: TaskSpec, text: str, tl: Timeline, frame: BoxFrame) -> Mapped:
    """Results on the original timeline and in original-frame pixels."""
    parsed = parse_for(spec.task, text)
    out = Mapped(
        answer=parsed.answer, verse=parsed.verse, summary=parsed.summary, warnings=parsed.warnings
    )
    for span in parsed.spans:
        mapped = map_span(span.start, span.end, tl)
        if mapped is None:
            out.warnings.append(
                f"dropped a time range outside the sampled video: {span.start}-{span.end} s"
            )
            continue
        if (note := span_note(span.start, span.end, mapped, tl)) is not None:
            out.warnings.append(note)
        key = "description" if spec.task == "describe" else "label"
        # An unlabelled range answers the query that was asked: label it with the query.
        label = span.text or (spec.query if spec.task == "temporal" else "")
        out.results.append({"start": mapped[0], "end": mapped[1], key: label})
    for raw in parsed.boxes:
        time = None
        if raw.time is not None:
            time = nearest_frame_time(raw.time, tl)
            if time is None:
                out.warnings.append(f"dropped a box at {raw.time} s, outside the sampled video")
                continue
        elif spec.task == "track":
            out.warnings.append(f"dropped a track box without a time: {list(raw.bbox)}")
            continue
        bbox, why = map_box(raw.bbox, frame)
        if why is not None:
            out.warnings.append(why)
        if bbox is None:
            continue
        out.results.append({"time": time, "bbox": bbox, "label": raw.label or spec.query})
    return out


def map_image_answer(spec: TaskSpec, text: str, frames: Sequence[BoxFrame]) -> Mapped:
    """Results in original image pixels; with several images each box names its image."""
    parsed = parse_for(spec.task, text)
    out = Mapped(
        answer=parsed.answer, verse=parsed.verse, summary=parsed.summary, warnings=parsed.warnings
    )
    for raw in parsed.boxes:
        index = raw.image if raw.image is not None else 0
        if not 0 <= index < len(frames):
            out.warnings.append(f"dropped a box on image {index}: there is no such image")
            continue
        if raw.image is None and len(frames) > 1:
            out.warnings.append(f"dropped a box that names no image: {list(raw.bbox)}")
            continue
        bbox, why = map_box(raw.bbox, frames[index])
        if why is not None:
            out.warnings.append(why)
        if bbox is None:
            continue
        record: dict[str, Any] = {"time": None, "bbox": bbox, "label": raw.label or spec.query}
        if len(frames) > 1:
            record["image"] = index
        out.results.append(record)
    return out
