"""Long videos: overlapping chunks, and merging their results into one answer.

Results here are already on the original timeline and in original pixels, so merging only
joins what the overlaps report twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inkshadow.errors import InvalidRequest
from inkshadow.tasks.types import ChunkPolicy

DUPLICATE_IOU = 0.7
MAX_CHUNKS = 10_000  # a guard against a policy that would never advance


@dataclass(frozen=True)
class Window:
    start: float
    end: float


def plan_chunks(start: float, end: float, policy: ChunkPolicy) -> list[Window]:
    """Windows of `chunk_seconds` covering [start, end], each overlapping the previous by
    `overlap_s`. A short tail is folded into the last window instead of becoming a sliver
    chunk too short to sample."""
    if end <= start:
        raise InvalidRequest("the time range to analyse is empty", param="end")
    length = policy.chunk_seconds
    overlap = min(policy.overlap_s, length / 2)  # keep the stride at least half a chunk
    stride = length - overlap
    if end - start <= length:
        return [Window(start, end)]
    windows: list[Window] = []
    at = start
    while at + length < end:
        windows.append(Window(at, at + length))
        at += stride
        if len(windows) > MAX_CHUNKS:
            raise InvalidRequest("the video needs too many chunks; raise chunk_seconds")
    tail = Window(at, end)
    if windows and (end - at) < overlap + length / 4:
        windows[-1] = Window(windows[-1].start, end)  # fold a sliver into the last chunk
    else:
        windows.append(tail)
    return windows


def merge_spans(items: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Join intervals that overlap or touch and carry the same `key` text; sorted."""
    ordered = sorted(items, key=lambda r: (str(r[key]).casefold(), r["start"], r["end"]))
    merged: list[dict[str, Any]] = []
    for item in ordered:
        last = merged[-1] if merged else None
        same = last is not None and str(last[key]).casefold() == str(item[key]).casefold()
        if last is not None and same and item["start"] <= last["end"]:
            last["end"] = max(last["end"], item["end"])
        else:
            merged.append(dict(item))
    return sorted(merged, key=lambda r: (r["start"], r["end"]))


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _same_sighting(a: dict[str, Any], b: dict[str, Any], within_s: float, threshold: float) -> bool:
    ta, tb = a.get("time"), b.get("time")
    if (ta is None) != (tb is None):
        return False
    near = ta == tb or (ta is not None and tb is not None and abs(ta - tb) <= within_s)
    return (
        near
        and a.get("image") == b.get("image")
        and str(a.get("label", "")).casefold() == str(b.get("label", "")).casefold()
        and iou(a["bbox"], b["bbox"]) > threshold
    )


def dedupe_boxes(
    per_chunk: Sequence[Sequence[dict[str, Any]]],
    *,
    within_s: float = 0.0,
    threshold: float = DUPLICATE_IOU,
) -> list[dict[str, Any]]:
    """Boxes of all chunks, sorted by time, without the ones an overlap reports twice: a box
    of a later chunk is dropped when an earlier chunk saw the same label at nearly the same
    place (IoU above `threshold`) within `within_s` seconds (one sampling step: the two
    chunks sampled different frames of the same moment). Boxes of one chunk are never
    merged: a still object tracked frame by frame keeps every frame."""
    kept: list[dict[str, Any]] = []
    for chunk in per_chunk:
        earlier = list(kept)
        for item in chunk:
            if not any(_same_sighting(k, item, within_s, threshold) for k in earlier):
                kept.append(dict(item))
    return sorted(kept, key=lambda r: (r.get("time") is None, r.get("time") or 0.0))


def merge_results(
    task: str, per_chunk: Sequence[Sequence[dict[str, Any]]], *, step_s: float = 0.0
) -> list[dict[str, Any]]:
    """One result list from the chunks' lists, per the task's result shape. `step_s`: the
    chunks' sampling interval, how far apart two sightings of one moment can be."""
    flat = [item for chunk in per_chunk for item in chunk]
    if task == "temporal":
        return merge_spans(flat, "label")
    if task == "describe":
        return merge_spans(flat, "description")
    if task in ("spatial", "track"):
        return dedupe_boxes(per_chunk, within_s=step_s)
    return flat
