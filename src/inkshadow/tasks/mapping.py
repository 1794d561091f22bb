"""Map model times and boxes back onto the original video: seconds and source pixels.

Time bases (transformers 5, the processors our engines feed):
- Qwen2.5-VL reads time only through MRoPE: temporal position = patch index ×
  tokens_per_second × (temporal_patch_size / sampled fps), counted from the first sampled
  frame. Its times are relative to that frame, so we add the frame's original time.
- Qwen3-VL reads "<t seconds>" markers that the processor writes as
  frames_indices[i] / fps (the source index over the source rate, averaged over the two
  frames of a temporal patch): absolute times on the original timeline, added to nothing.
Boxes: Qwen2.5-VL writes absolute pixels of the resized model input; Qwen3-VL writes 0-1000
relative to the frame.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from inkshadow.families import Family
from inkshadow.tasks.values import Box

QWEN3_BOX_SCALE = 1000.0
MIN_BOX_SIDE = 1.0  # original pixels; thinner boxes mark nothing
# Differences below these are rounding, not worth a warning: pixels, seconds.
CLAMP_NOTE_PX = 2.0
CLAMP_NOTE_S = 0.5
# Image processor defaults of the released checkpoints (preprocessor_config.json), which
# the in-process and vLLM engines resize images with: (factor, min_pixels, max_pixels).
IMAGE_RESIZE = {
    Family.QWEN2_5_VL: (28, 56 * 56, 28 * 28 * 16384),
    Family.QWEN3_VL: (32, 65536, 16777216),
}


@dataclass(frozen=True)
class Timeline:
    """One sampled clip: how model times land on the original timeline."""

    offset: float  # seconds added to the model's times
    lo: float  # the sampled range, original seconds
    hi: float
    timestamps: tuple[float, ...]  # original time of every sampled frame


def timeline(family: Family, timestamps: Sequence[float], duration: float) -> Timeline:
    """The clip's time base. The sampled range runs from the first sampled frame to one
    sampling step past the last (that frame stands for the step after it), within the
    video."""
    if not timestamps:
        return Timeline(0.0, 0.0, max(duration, 0.0), ())
    first, last = float(timestamps[0]), float(timestamps[-1])
    step = (last - first) / (len(timestamps) - 1) if len(timestamps) > 1 else 0.0
    offset = first if family is Family.QWEN2_5_VL else 0.0
    hi = max(first, min(duration, last + step)) if duration > 0 else last + step
    return Timeline(offset, max(0.0, first), hi, tuple(float(t) for t in timestamps))


def map_time(t: float, tl: Timeline) -> float:
    return round(min(max(t + tl.offset, tl.lo), tl.hi), 3)


def span_note(start: float, end: float, mapped: tuple[float, float], tl: Timeline) -> str | None:
    """Why a mapped span differs from what the model wrote (reversed, clamped), if it does."""
    if start > end:
        return f"read the reversed time range {start}-{end} s in order"
    lo, hi = start + tl.offset, end + tl.offset
    if abs(lo - mapped[0]) > CLAMP_NOTE_S or abs(hi - mapped[1]) > CLAMP_NOTE_S:
        return f"clamped the time range {start}-{end} s to the sampled video"
    return None


def map_span(start: float, end: float, tl: Timeline) -> tuple[float, float] | None:
    """Original (start, end), corrected if reversed and clamped to the sampled range; None
    when the whole span lies outside it (clamping would invent an event at the edge)."""
    a, b = sorted((start + tl.offset, end + tl.offset))
    if b < tl.lo or a > tl.hi:
        return None
    return map_time(a - tl.offset, tl), map_time(b - tl.offset, tl)


def nearest_frame_time(t: float, tl: Timeline) -> float | None:
    """The original time of the sampled frame closest to model time `t`; None when `t` lies
    more than one sampling step outside the sampled range (it names no frame we showed)."""
    if not tl.timestamps:
        return None
    target = t + tl.offset
    first, last = tl.timestamps[0], tl.timestamps[-1]
    step = (last - first) / (len(tl.timestamps) - 1) if len(tl.timestamps) > 1 else 0.5
    if not first - step <= target <= last + step:
        return None
    i = bisect.bisect_left(tl.timestamps, target)
    near = [tl.timestamps[j] for j in (i - 1, i) if 0 <= j < len(tl.timestamps)]
    best: float = min(near, key=lambda ts: abs(ts - target))
    return round(best, 3)


@dataclass(frozen=True)
class BoxFrame:
    """The geometry one box was drawn in: model input size and the original size."""

    family: Family
    input_width: int  # resized model input (Qwen2.5-VL coordinates)
    input_height: int
    width: int  # original frame
    height: int


def map_box(box: Box, frame: BoxFrame) -> tuple[list[float] | None, str | None]:
    """Original-pixel [x1, y1, x2, y2], corners ordered and clamped inside the frame, with a
    note when it had to be reordered or clamped; or (None, why) for a box with no area
    inside the frame."""
    if frame.family is Family.QWEN3_VL:
        sx, sy = frame.width / QWEN3_BOX_SCALE, frame.height / QWEN3_BOX_SCALE
    else:
        sx, sy = frame.width / frame.input_width, frame.height / frame.input_height
    raw = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    x1, x2 = sorted((raw[0], raw[2]))
    y1, y2 = sorted((raw[1], raw[3]))
    x1, x2 = (min(max(v, 0.0), float(frame.width)) for v in (x1, x2))
    y1, y2 = (min(max(v, 0.0), float(frame.height)) for v in (y1, y2))
    if x2 - x1 < MIN_BOX_SIDE or y2 - y1 < MIN_BOX_SIDE:
        return None, f"dropped a box with no area inside the frame: {list(box)}"
    note = None
    if raw[0] > raw[2] or raw[1] > raw[3]:
        note = f"read a box with swapped corners in order: {list(box)}"
    elif max(abs(a - b) for a, b in zip(raw, (x1, y1, x2, y2), strict=True)) > CLAMP_NOTE_PX:
        note = f"clamped a box reaching outside the frame: {list(box)}"
    return [round(v, 1) for v in (x1, y1, x2, y2)], note


def image_input_size(family: Family, width: int, height: int) -> tuple[int, int]:
    """(width, height) the engine's image processor resizes an image to, with the family's
    default budget: transformers' Qwen2VLImageProcessor smart_resize, reproduced (it differs
    from qwen-vl-utils' in where it applies the `factor` floor). Qwen2.5-VL boxes on images
    are pixels of this size."""
    factor, min_pixels, max_pixels = IMAGE_RESIZE[family]
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return w_bar, h_bar
