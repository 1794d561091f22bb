"""What a picture of an analysis result marks: its events on the timeline, and its boxes
grouped by the frame time they belong to. Shared by the web UI and `analyze --preview`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    start: float
    end: float  # == start for an instant (a box at one frame)
    label: str


def events_of(result: dict[str, Any]) -> list[Event]:
    """Intervals (temporal, describe) or instants (spatial, track) of an analysis result,
    in time order; items without a readable time are left out."""
    events = []
    for item in result.get("results") or []:
        if not isinstance(item, dict):
            continue
        label = str(item.get("label") or item.get("description") or "")
        start, end, time = item.get("start"), item.get("end"), item.get("time")
        if isinstance(start, int | float) and isinstance(end, int | float):
            events.append(Event(float(start), max(float(start), float(end)), label))
        elif isinstance(time, int | float):
            events.append(Event(float(time), float(time), label))
    return sorted(events, key=lambda e: (e.start, e.end))


def boxes_by_time(
    results: Sequence[dict[str, Any]], limit: int
) -> dict[float, list[dict[str, Any]]]:
    """Results that carry a box, grouped by frame time (None: the first frame), the first
    `limit` times in order."""
    grouped: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for item in results:
        bbox = item.get("bbox") if isinstance(item, dict) else None
        if not isinstance(bbox, list | tuple) or len(bbox) != 4:
            continue
        time = item.get("time")
        grouped[float(time) if isinstance(time, int | float) else 0.0].append(item)
    return dict(sorted(grouped.items())[:limit])
