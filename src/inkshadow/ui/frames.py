"""Frames of an uploaded video at the times of a result, with its boxes drawn on them.

Boxes come from the API in original-frame pixels, so frames are decoded at source size
(`inkshadow.media.stills`) and drawn on at that size (`inkshadow.media.draw`, the same
drawing as `inkshadow analyze --preview`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from inkshadow.media.draw import draw_boxes
from inkshadow.media.stills import frames_at
from inkshadow.tasks import marks

MAX_FRAMES = 24  # a gallery past this is unreadable; the JSON has the rest


def boxes_by_time(results: Sequence[dict[str, Any]]) -> dict[float, list[dict[str, Any]]]:
    """Results that carry a box, grouped by frame time, as many as the gallery shows."""
    return marks.boxes_by_time(results, MAX_FRAMES)


def annotated_frames(
    path: Path, results: Sequence[dict[str, Any]]
) -> list[tuple[Image.Image, str]]:
    """(frame with boxes, caption) for every time that has a box. Raises UnsupportedMedia
    for a file that is not a readable video."""
    grouped = boxes_by_time(results)
    if not grouped:
        return []
    decoded = frames_at(path, list(grouped))
    gallery = []
    for time, items in grouped.items():
        frame = decoded.get(time)
        if frame is None:
            continue
        labels = ", ".join(sorted({str(i.get("label") or "") for i in items} - {""}))
        caption = f"{time:.2f} s" + (f" · {labels}" if labels else "")
        gallery.append((draw_boxes(frame, items), caption))
    return gallery
