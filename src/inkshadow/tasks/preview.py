"""A picture of one analysis result (`inkshadow analyze --preview out.png`): frames of the
original video with the result's boxes drawn at source resolution, then an event timeline
over the video's length. For people to look at; the JSON is the result."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from inkshadow.media.draw import COLOURS, draw_boxes, font
from inkshadow.media.stills import frames_at
from inkshadow.tasks.marks import Event, boxes_by_time, events_of

MAX_TILES = 12
PLAIN_TILES = 6  # frames shown when a result has no boxes and no events
TILE_W = 320
COLUMNS = 4
PAD = 8
ROW_H = 22
BACKGROUND = "#111418"
INK = "#e8eaed"
MUTED = "#9aa0a6"


@dataclass(frozen=True)
class Tile:
    time: float
    boxes: tuple[dict[str, Any], ...]
    caption: str


def tiles_of(result: dict[str, Any]) -> list[Tile]:
    """Which frames to show: every time that has a box; else the middle of each event;
    else frames spread evenly over the video."""
    by_time = boxes_by_time(result.get("results") or [], MAX_TILES)
    if by_time:
        return [
            Tile(t, tuple(items), ", ".join(sorted({str(i.get("label") or "") for i in items})))
            for t, items in by_time.items()
        ]
    spans = [e for e in events_of(result) if e.end > e.start][:MAX_TILES]
    if spans:
        return [Tile((e.start + e.end) / 2, (), e.label) for e in spans]
    duration = float((result.get("video") or {}).get("duration") or 0.0)
    return [Tile(duration * (i + 0.5) / PLAIN_TILES, (), "") for i in range(PLAIN_TILES)]


def _tile_image(frame: Image.Image, tile: Tile) -> Image.Image:
    drawn = draw_boxes(frame, tile.boxes) if tile.boxes else frame.convert("RGB")
    height = max(1, round(drawn.height * TILE_W / drawn.width))
    return drawn.resize((TILE_W, height), Image.Resampling.LANCZOS)


def _timeline(draw: ImageDraw.ImageDraw, spans: Sequence[Event], box: tuple[int, int, int],
              duration: float) -> None:  # fmt: skip
    left, top, width = box
    labels = list(dict.fromkeys(s.label for s in spans))
    face = font(12)
    scale = width / duration if duration > 0 else 0.0
    for row, label in enumerate(labels):
        y = top + row * ROW_H
        colour = COLOURS[row % len(COLOURS)]
        draw.rectangle((left, y + 4, left + width, y + ROW_H - 4), fill="#23272e")
        for s in spans:
            if s.label != label:
                continue
            x1 = left + s.start * scale
            x2 = max(x1 + 2, left + s.end * scale)
            draw.rectangle((x1, y + 4, x2, y + ROW_H - 4), fill=colour)
        draw.text((left + 4, y + 5), label[:60], fill=INK, font=face)
    axis = top + len(labels) * ROW_H + 2
    draw.line((left, axis, left + width, axis), fill=MUTED)
    step = _tick_step(duration)
    for k in range(int(duration // step) + 1 if step else 0):
        x = left + k * step * scale
        draw.line((x, axis, x, axis + 4), fill=MUTED)
        text = f"{k * step:g}s"
        if x + 2 + draw.textlength(text, font=face) <= left + width:
            draw.text((x + 2, axis + 4), text, fill=MUTED, font=face)


def _tick_step(duration: float) -> float:
    if duration <= 0:
        return 0.0
    raw = duration / 8
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return float(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))


def render_preview(video: Path, result: dict[str, Any], query: str = "") -> Image.Image:
    """The picture of `result` (an AnalysisResult as JSON) about the video at `video`."""
    tiles = tiles_of(result)
    stills = frames_at(video, [t.time for t in tiles])
    shown = [(t, _tile_image(stills[t.time], t)) for t in tiles if t.time in stills]
    columns = max(1, min(COLUMNS, len(shown)))
    tile_h = max((im.height for _, im in shown), default=0) + 18
    rows = math.ceil(len(shown) / columns)
    spans = events_of(result)
    timeline_h = (len({s.label for s in spans}) * ROW_H + 24) if spans else 0
    warnings = [str(w) for w in result.get("warnings") or []]
    header = [f"{result.get('task', '')}: {query}".strip(": "), *warnings[:3]]
    width = columns * TILE_W + (columns + 1) * PAD
    height = PAD + 18 * len(header) + PAD + rows * (tile_h + PAD) + timeline_h + PAD
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    face = font(13)
    y = PAD
    for n, line in enumerate(header):
        draw.text((PAD, y), line[:140], fill=INK if n == 0 else "#ffcc00", font=face)
        y += 18
    y += PAD
    for n, (tile, image) in enumerate(shown):
        x = PAD + (n % columns) * (TILE_W + PAD)
        ty = y + (n // columns) * (tile_h + PAD)
        canvas.paste(image, (x, ty))
        caption = f"{tile.time:.2f} s" + (f" · {tile.caption}" if tile.caption else "")
        draw.text((x, ty + image.height + 2), caption[:48], fill=MUTED, font=font(12))
    y += rows * (tile_h + PAD)
    duration = float((result.get("video") or {}).get("duration") or 0.0)
    if spans:
        _timeline(draw, spans, (PAD, y, width - 2 * PAD), duration or max(s.end for s in spans))
    return canvas
