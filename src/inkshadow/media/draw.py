"""Boxes and labels drawn on a frame with Pillow, at the frame's own pixel size.

Shared by the web UI's frame gallery and `inkshadow analyze --preview`: results carry boxes
in original-frame pixels, so frames are drawn on at source size and scaled afterwards."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFont

COLOURS = ("#ff3b30", "#34c759", "#0a84ff", "#ffcc00", "#af52de", "#ff9500")

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow built without FreeType
        return ImageFont.load_default()


def draw_boxes(image: Image.Image, items: Sequence[dict[str, Any]]) -> Image.Image:
    """A copy of `image` with each item's bbox ([x1, y1, x2, y2], image pixels) and label."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    width = max(2, round(min(out.size) / 120))
    face = font(max(12, round(min(out.size) / 22)))
    for n, item in enumerate(items):
        x1, y1, x2, y2 = (float(v) for v in item["bbox"])
        colour = COLOURS[n % len(COLOURS)]
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        label = str(item.get("label") or "")[:40]
        if label:
            left, top, right, bottom = draw.textbbox((x1, y1), label, font=face)
            lift = bottom - top + 2 * width
            y = y1 - lift if y1 - lift >= 0 else y1
            draw.rectangle((x1, y, x1 + right - left + 2 * width, y + lift), fill=colour)
            draw.text((x1 + width, y + width - (top - y1)), label, fill="black", font=face)
    return out
