"""Read single values out of what a model wrote: times, time ranges, boxes.

Each reader returns None (or nothing) for what it cannot read; none of them guesses. The
formats are the ones Qwen models really print: seconds ("64.0", "64.0s", "64 seconds"),
clock times ("1:02", "00:23.00" = mm:ss.ff, "01:02:03.5" = hh:mm:ss), ranges ("64.0 - 72.0
seconds", "from 1:02 to 1:10", "00:23.00 - 00:48.00"), box lists ([x1, y1, x2, y2]) and the
Qwen2-VL tag form "<|box_start|>(x1,y1),(x2,y2)<|box_end|>".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

Box = tuple[float, float, float, float]

# A time: seconds with an optional fraction, or a clock time with one or two colons.
_TIME = r"\d{1,7}(?::\d{1,2}){0,2}(?:\.\d+)?"
_UNIT = r"(?:seconds?|secs?|s|秒)"
_SECONDS = re.compile(rf"^<?\s*(\d{{1,9}}(?:\.\d+)?)\s*{_UNIT}?\s*>?$", re.IGNORECASE)
_CLOCK = re.compile(r"^(?:(\d{1,4}):)?(\d{1,4}):(\d{1,2}(?:\.\d+)?)$")
_RANGE = re.compile(
    rf"(?:\bfrom\s+|从\s*)?({_TIME})\s*{_UNIT}?\s*(?:-|–|—|~|\bto\b|\buntil\b|至|到)\s*"
    rf"({_TIME})(?:\s*{_UNIT})?",
    re.IGNORECASE,
)
_NUMBER = r"\s*(-?\d{1,7}(?:\.\d+)?)\s*"
_TAG_BOX = re.compile(
    r"(?:<\|object_ref_start\|>(?P<label>[^<]{0,200})<\|object_ref_end\|>\s*)?"
    rf"<\|?box(?:_start\|)?>\s*\({_NUMBER},{_NUMBER}\)\s*,?\s*\({_NUMBER},{_NUMBER}\)\s*"
    r"<\|?/?box(?:_end\|)?>",
)
_BOX_TEXT = re.compile(rf"^\s*[\[(]?{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}[\])]?\s*$")


def finite(value: Any) -> float | None:
    """A JSON number as a float; None for bools, NaN, infinities and everything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_time(value: Any) -> float | None:
    """Seconds from a number or a time string; None when it is neither."""
    number = finite(value)
    if number is not None:
        return number if number >= 0 else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    match = _SECONDS.match(text)
    if match:
        return float(match.group(1))
    match = _CLOCK.match(text.strip("<> "))
    if match is None:
        return None
    hours = int(match.group(1) or 0)
    minutes = int(match.group(2))
    seconds = float(match.group(3))
    if seconds >= 60 or (match.group(1) is not None and minutes >= 60):
        return None  # "1:75" is not a clock time: refuse rather than reinterpret
    return hours * 3600 + minutes * 60 + seconds


def parse_span(value: Any) -> tuple[float, float] | None:
    """(start, end) from "a - b", "from a to b", [a, b] or {"start": a, "end": b}."""
    if isinstance(value, list | tuple) and len(value) == 2:
        start, end = parse_time(value[0]), parse_time(value[1])
        return None if start is None or end is None else (start, end)
    if isinstance(value, str) and len(value) <= 200:
        spans = list(find_spans(value))
        if len(spans) == 1:
            return spans[0][0], spans[0][1]
    return None


def find_spans(text: str) -> Iterator[tuple[float, float, int, int]]:
    """Every time range written in free text: (start, end, match start, match end)."""
    for match in _RANGE.finditer(text):
        start, end = parse_time(match.group(1)), parse_time(match.group(2))
        if start is not None and end is not None:
            yield start, end, match.start(), match.end()


def parse_box(value: Any) -> Box | None:
    """Four finite numbers from a list or a "[x1, y1, x2, y2]" string; else None."""
    if isinstance(value, list | tuple) and len(value) == 4:
        numbers = [finite(v) for v in value]
        if all(n is not None for n in numbers):
            x1, y1, x2, y2 = (float(n) for n in numbers if n is not None)
            return x1, y1, x2, y2
        return None
    if isinstance(value, str) and len(value) <= 200:
        match = _BOX_TEXT.match(value)
        if match:
            a, b, c, d = (float(g) for g in match.groups())
            return a, b, c, d
    return None


def find_tag_boxes(text: str) -> Iterator[tuple[Box, str]]:
    """Boxes in the Qwen2-VL tag form, with their <|object_ref|> label when present."""
    for match in _TAG_BOX.finditer(text):
        x1, y1, x2, y2 = (float(match.group(i)) for i in range(2, 6))
        yield (x1, y1, x2, y2), (match.group("label") or "").strip()
