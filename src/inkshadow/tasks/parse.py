"""Parse model answers into raw spans and boxes, in the model's own units.

Constrained decoding makes our own engine's answers valid JSON, but remote upstreams may
ignore the schema and real models write what they were trained on: fenced ```json blocks,
bare JSON with prose around it, Qwen3-VL's {"00:23.00 - 00:48.00": "..."} dense captions,
Qwen2.5-VL's [{"bbox_2d": [...], "label": ...}] lists, "64.0 - 72.0 seconds" sentences.
Parsers never raise and never guess: whatever cannot be read becomes a warning.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from inkshadow.tasks.values import (
    Box,
    find_spans,
    find_tag_boxes,
    parse_box,
    parse_span,
    parse_time,
)

MAX_TEXT = 200_000  # longer answers are cut: parsing must stay cheap
_MAX_DECODE_TRIES = 200
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_START_KEYS = ("start", "start_time", "begin", "from", "start_sec", "start_seconds")
_END_KEYS = ("end", "end_time", "to", "end_sec", "end_seconds")
_SPAN_KEYS = ("timestamp", "timestamps", "time", "span", "interval", "time_range", "segment")
_TEXT_KEYS = ("label", "description", "caption", "event", "text", "name", "query", "content")
_BOX_KEYS = ("bbox_2d", "bbox", "box_2d", "box", "bounding_box", "coordinates")
_LABEL_KEYS = ("label", "name", "object", "category", "description", "text")
_TIME_KEYS = ("time", "timestamp", "t", "frame_time", "seconds", "second")
_SUMMARY_KEYS = ("summary", "overall", "overview")


@dataclass(frozen=True)
class Span:
    start: float
    end: float
    text: str  # label or description; "" when the model gave none


@dataclass(frozen=True)
class RawBox:
    bbox: Box  # model units: resized pixels (Qwen2.5-VL) or 0-1000 (Qwen3-VL)
    label: str
    time: float | None  # model time when given
    image: int | None = None  # which image, for several images


@dataclass
class Parsed:
    spans: list[Span] = field(default_factory=list)
    boxes: list[RawBox] = field(default_factory=list)
    summary: str = ""
    answer: str = ""
    verse: str = ""
    warnings: list[str] = field(default_factory=list)


def _snippet(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)[:200]
    return text[:80] + ("…" if len(text) > 80 else "")


def _literal(text: str) -> Any:
    """A JSON value, or a Python literal (single quotes) as some models write; else None."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def extract_json(text: str) -> Any:
    """The first JSON object or array in `text`: the whole text, a fenced block, or the first
    decodable value after prose. None when there is none."""
    text = text[:MAX_TEXT]
    value = _literal(text) if text.strip()[:1] in ("[", "{") else None
    if isinstance(value, list | dict):
        return value
    for block in _FENCE.findall(text):
        value = _literal(block)
        if isinstance(value, list | dict):
            return value
    decoder = json.JSONDecoder()
    tries = 0
    for match in re.finditer(r"[\[{]", text):
        tries += 1
        if tries > _MAX_DECODE_TRIES:
            break
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, list | dict):
            return value
    return None


def _first(item: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in item:
            return item[key]
    return None


def _text(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    value = _first(item, keys)
    return value.strip() if isinstance(value, str) else ""


def _items(value: Any) -> Iterator[Any]:
    """The records of an answer: a list, the list under a dict's key, or the dict itself."""
    if isinstance(value, list):
        yield from value
    elif isinstance(value, dict):
        # Records sit in lists of objects ({"events": [...]}); an empty list is no records.
        lists = [
            v for v in value.values() if isinstance(v, list) and all(isinstance(x, dict) for x in v)
        ]
        if lists and not any(k in value for k in _BOX_KEYS):
            for inner in lists:
                yield from inner
        else:
            yield value


def _span_of(item: dict[str, Any]) -> tuple[float, float] | None:
    start, end = _first(item, _START_KEYS), _first(item, _END_KEYS)
    if start is not None and end is not None:
        s, e = parse_time(start), parse_time(end)
        return None if s is None or e is None else (s, e)
    return parse_span(_first(item, _SPAN_KEYS))


def _keyed_spans(value: dict[str, Any], out: Parsed) -> bool:
    """Qwen3-VL dense captions: {"00:23.00 - 00:48.00": "..."}; True when that is the form."""
    found = False
    for key, text in value.items():
        span = parse_span(key)
        if span is None:
            continue
        found = True
        if isinstance(text, str):
            out.spans.append(Span(span[0], span[1], text.strip()))
        else:
            out.warnings.append(f"no text for the time range {key!r}")
    return found


def parse_spans(text: str) -> Parsed:
    """Time ranges with labels or descriptions (temporal, describe), plus any summary."""
    out = Parsed()
    value = extract_json(text)
    if value is None:
        for start, end, _, _ in find_spans(text[:MAX_TEXT]):
            out.spans.append(Span(start, end, ""))
        if not out.spans:
            out.warnings.append(f"no time range found in the answer: {_snippet(text)}")
        return out
    if isinstance(value, dict):
        summary = _first(value, _SUMMARY_KEYS)
        out.summary = summary.strip() if isinstance(summary, str) else ""
        if _keyed_spans(value, out):
            return out
    for item in _items(value):
        if isinstance(item, dict):
            if _keyed_spans(item, out) and _span_of(item) is None:
                continue
            span = _span_of(item)
            if span is not None:
                out.spans.append(Span(span[0], span[1], _text(item, _TEXT_KEYS)))
                continue
            if _first(item, _SUMMARY_KEYS) is not None and len(item) == 1:
                continue
        elif (span := parse_span(item)) is not None:
            out.spans.append(Span(span[0], span[1], ""))
            continue
        out.warnings.append(f"could not read a time range from {_snippet(item)}")
    return out


def _box_item(item: Any, time: float | None, out: Parsed) -> None:
    if isinstance(item, dict):
        box = parse_box(_first(item, _BOX_KEYS))
        if box is None:
            out.warnings.append(f"could not read a box from {_snippet(item)}")
            return
        raw_time = _first(item, _TIME_KEYS)
        item_time = parse_time(raw_time) if raw_time is not None else time
        if raw_time is not None and item_time is None:
            out.warnings.append(f"could not read the time {_snippet(raw_time)}")
        image = item.get("image", item.get("image_index"))
        index = image if isinstance(image, int) and not isinstance(image, bool) else None
        out.boxes.append(RawBox(box, _text(item, _LABEL_KEYS), item_time, index))
        return
    box = parse_box(item)
    if box is None:
        out.warnings.append(f"could not read a box from {_snippet(item)}")
    else:
        out.boxes.append(RawBox(box, "", time))


def parse_boxes(text: str) -> Parsed:
    """Boxes with labels and, for video, times (spatial, track)."""
    out = Parsed()
    value = extract_json(text)
    if value is None:
        for box, label in find_tag_boxes(text[:MAX_TEXT]):
            out.boxes.append(RawBox(box, label, None))
        if not out.boxes:
            out.warnings.append(f"no box found in the answer: {_snippet(text)}")
        return out
    if parse_box(value) is not None:  # a bare [x1, y1, x2, y2]
        _box_item(value, None, out)
        return out
    if isinstance(value, dict) and not any(k in value for k in _BOX_KEYS):
        # {"1.0": [..], "2.0": {...}}: boxes keyed by their frame time
        timed = {k: parse_time(k) for k in value}
        if timed and all(t is not None for t in timed.values()):
            for key, inner in value.items():
                several = isinstance(inner, list) and parse_box(inner) is None
                for item in inner if several else [inner]:
                    _box_item(item, timed[key], out)
            return out
    for item in _items(value):
        _box_item(item, None, out)
    return out


def parse_answer(text: str) -> Parsed:
    """A free answer: {"answer": ..., "verse": ...} or plain text taken as the answer."""
    out = Parsed()
    value = extract_json(text)
    if isinstance(value, dict):
        answer, verse = value.get("answer"), value.get("verse")
        out.answer = answer.strip() if isinstance(answer, str) else ""
        out.verse = verse.strip() if isinstance(verse, str) else ""
        if out.answer or out.verse:
            return out
    out.answer = text.strip()[:MAX_TEXT]
    if not out.answer:
        out.warnings.append("the model gave an empty answer")
    return out
