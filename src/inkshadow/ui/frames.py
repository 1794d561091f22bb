"""Frames of an uploaded video at the times of a result, with its boxes drawn on them.

Boxes come from the API in original-frame pixels, so frames are decoded at source size
(PyAV, seeking to the keyframe before each time) and drawn on with Pillow at that size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageDraw, ImageFont

_COLOURS = ("#ff3b30", "#34c759", "#0a84ff", "#ffcc00", "#af52de", "#ff9500")
MAX_FRAMES = 24  # a gallery past this is unreadable; the JSON has the rest


def boxes_by_time(results: Sequence[dict[str, Any]]) -> dict[float, list[dict[str, Any]]]:
    """Results that carry a box, grouped by frame time (None: the first frame)."""
    grouped: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for item in results:
        bbox = item.get("bbox")
        if not isinstance(bbox, list | tuple) or len(bbox) != 4:
            continue
        time = item.get("time")
        grouped[float(time) if isinstance(time, int | float) else 0.0].append(item)
    return dict(sorted(grouped.items())[:MAX_FRAMES])


def decode_at(path: Path, times: Sequence[float]) -> dict[float, Image.Image]:
    """The frame shown at each time (the last frame starting at or before it)."""
    frames: dict[float, Image.Image] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = stream.time_base
        if base is None:
            raise ValueError("the video stream has no time base")
        for want in sorted(set(times)):
            container.seek(int(max(0.0, want) / base), stream=stream, backward=True)
            best: Image.Image | None = None
            for frame in container.decode(stream):
                at = float(frame.pts * base) if frame.pts is not None else 0.0
                if best is not None and at > want + 1e-6:
                    break
                best = Image.fromarray(frame.to_ndarray(format="rgb24"))
            if best is not None:
                frames[want] = best
    return frames


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow built without FreeType
        return ImageFont.load_default()


def draw_boxes(image: Image.Image, items: Sequence[dict[str, Any]]) -> Image.Image:
    """A copy of `image` with each item's bbox ([x1, y1, x2, y2], image pixels) and label."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    width = max(2, round(min(out.size) / 120))
    font = _font(max(12, round(min(out.size) / 22)))
    for n, item in enumerate(items):
        x1, y1, x2, y2 = (float(v) for v in item["bbox"])
        colour = _COLOURS[n % len(_COLOURS)]
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        label = str(item.get("label") or "")[:40]
        if label:
            left, top, right, bottom = draw.textbbox((x1, y1), label, font=font)
            lift = bottom - top + 2 * width
            y = y1 - lift if y1 - lift >= 0 else y1
            draw.rectangle((x1, y, x1 + right - left + 2 * width, y + lift), fill=colour)
            draw.text((x1 + width, y + width - (top - y1)), label, fill="black", font=font)
    return out


def annotated_frames(
    path: Path, results: Sequence[dict[str, Any]]
) -> list[tuple[Image.Image, str]]:
    """(frame with boxes, caption) for every time that has a box."""
    grouped = boxes_by_time(results)
    if not grouped:
        return []
    decoded = decode_at(path, list(grouped))
    gallery = []
    for time, items in grouped.items():
        frame = decoded.get(time)
        if frame is None:
            continue
        labels = ", ".join(sorted({str(i.get("label") or "") for i in items} - {""}))
        caption = f"{time:.2f} s" + (f" · {labels}" if labels else "")
        gallery.append((draw_boxes(frame, items), caption))
    return gallery
