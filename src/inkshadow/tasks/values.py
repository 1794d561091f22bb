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
    rf"(?P<from>\bfrom\s+|从\s*)?(?P<a>{_TIME})\s*(?P<u1>{_UNIT}(?![a-z]))?\s*"
    rf"(?:-|–|—|~|\bto\b|\buntil\b|至|到)\s*(?P<b>{_TIME})(?:\s*(?P<u2>{_UNIT}(?![a-z])))?",
    re.IGNORECASE,
)
# Digits, dashes and dots glued to a range make it part of something else: a date
# (2024-05-01), a version, a phone number.
_GLUED_BEFORE = re.compile(r"[\d/-]$|\d[.:]$")
_GLUED_AFTER = re.compile(r"^[\d/-]|^[.:]\d")
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
        # A field meant as a time range: "64.0 - 72.0" needs no unit here.
        spans = list(find_spans(value, prose=False))
        if len(spans) == 1:
            return spans[0][0], spans[0][1]
    return None


def find_spans(text: str, *, prose: bool = True) -> Iterator[tuple[float, float, int, int]]:
    """Every time range written in `text`: (start, end, match start, match end).

    In prose a range must show it is one of time: a unit ("64.0 - 72.0 seconds"), a clock
    ("1:02 - 1:10") or "from ... to"; "score 3-1" or "pages 5-10" are not times. A range
    glued to more digits and dashes (a date, a version) is never read."""
    for match in _RANGE.finditer(text):
        if _GLUED_BEFORE.search(text[: match.start()]) or _GLUED_AFTER.search(text[match.end() :]):
            continue
        a, b = match.group("a"), match.group("b")
        timely = match.group("from") or match.group("u1") or match.group("u2") or ":" in a + b
        if prose and not timely:
            continue
        start, end = parse_time(a), parse_time(b)
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
