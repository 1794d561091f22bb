"""Parsers on the formats Qwen models really write, and on garbage: never crash, never
invent (every number returned is written in the answer)."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from inkshadow.tasks.parse import extract_json, parse_answer, parse_boxes, parse_spans
from inkshadow.tasks.values import parse_box, parse_span, parse_time

_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")  # JSON numbers, 1E1 too
_CLOCK = re.compile(r"\d+(?::\d{1,2}){1,2}(?:\.\d+)?")
LABELS = st.text(st.sampled_from("abc xyz白色方块运动的人"), max_size=12).map(str.strip)
TIMES = st.integers(0, 2 * 3600 * 100).map(lambda c: c / 100)
COORD = st.integers(0, 2000)


def written_values(text: str) -> set[float]:
    """Every number and clock time written in `text`: what a result may come from."""
    values = {float(m) for m in _NUMBER.findall(text)}
    values |= {t for m in _CLOCK.findall(text) if (t := parse_time(m)) is not None}
    return values


def clock(seconds: float, hours: bool = False) -> str:
    m, s = divmod(seconds, 60)
    if hours:
        h, m = divmod(int(m), 60)
        return f"{h:02d}:{int(m):02d}:{s:05.2f}"
    return f"{int(m):02d}:{s:05.2f}"


def test_time_formats() -> None:
    assert parse_time(64) == 64.0
    assert parse_time("64.0s") == 64.0
    assert parse_time("64 seconds") == 64.0
    assert parse_time("<12.5 seconds>") == 12.5
    assert parse_time("1:02") == 62.0
    assert parse_time("00:23.50") == 23.5
    assert parse_time("01:02:03.5") == 3723.5
    assert parse_time("12秒") == 12.0
    for bad in ("1:75", "abc", "", "-3", True, None, float("nan"), [1], "1:2:3:4"):
        assert parse_time(bad) is None


def test_span_formats() -> None:
    assert parse_span("64.0 - 72.0 seconds") == (64.0, 72.0)
    assert parse_span("from 1:02 to 1:10") == (62.0, 70.0)
    assert parse_span("00:23.00 - 00:48.00") == (23.0, 48.0)
    assert parse_span("从3秒到5秒") == (3.0, 5.0)
    assert parse_span([1, "2.5"]) == (1.0, 2.5)
    assert parse_span("no time here") is None


def test_prose_ranges_must_be_times() -> None:
    """In free text a range needs a unit, a clock or "from ... to": dates, scores and page
    numbers are not events."""
    for text in ("On 2024-05-01 a car passes.", "The score was 3-1.", "See pages 5-10.",
                 "Version 1.2-3 ships.", "Call 555-1234 now."):  # fmt: skip
        got = parse_spans(text)
        assert got.spans == [] and got.warnings, text
    for text, want in (
        ("It happens in 64.0 - 72.0 seconds.", (64.0, 72.0)),
        ("at 1:02-1:10 he sits", (62.0, 70.0)),
        ("from 3 to 5 the door is open", (3.0, 5.0)),
        ("门在3秒到5秒之间打开", (3.0, 5.0)),
        ("between 12s and 20s: no; 12s-20s: yes", (12.0, 20.0)),
    ):
        got = parse_spans(text)
        assert [(sp.start, sp.end) for sp in got.spans] == [want], text


def test_qwen25_sentence_and_qwen3_dense_dict() -> None:
    out = parse_spans("The event happens in 64.0 - 72.0 seconds.")
    assert [(s.start, s.end) for s in out.spans] == [(64.0, 72.0)]
    dense = '```json\n{"00:23.00 - 00:48.00": "a man walks in", "00:48.00 - 01:02.50": "sits"}\n```'
    out = parse_spans(dense)
    assert [(s.start, s.end, s.text) for s in out.spans] == [
        (23.0, 48.0, "a man walks in"),
        (48.0, 62.5, "sits"),
    ]
    listed = '[{"start_time": "00:03.00", "end_time": "00:07.50", "description": "跑步"}]'
    assert [(s.start, s.end, s.text) for s in parse_spans(listed).spans] == [(3.0, 7.5, "跑步")]


def test_box_formats() -> None:
    qwen = 'Here you go:\n```json\n[\n\t{"bbox_2d": [135, 114, 1016, 672], "label": "cat"}\n]\n```'
    assert [(b.bbox, b.label) for b in parse_boxes(qwen).boxes] == [
        ((135.0, 114.0, 1016.0, 672.0), "cat")
    ]
    tags = "<|object_ref_start|>dog<|object_ref_end|><|box_start|>(10,20),(30,40)<|box_end|>"
    assert [(b.bbox, b.label) for b in parse_boxes(tags).boxes] == [
        ((10.0, 20.0, 30.0, 40.0), "dog")
    ]
    keyed = '{"1.5": [1, 2, 3, 4], "00:02.00": {"bbox_2d": [5, 6, 7, 8], "label": "x"}}'
    assert [(b.time, b.bbox) for b in parse_boxes(keyed).boxes] == [
        (1.5, (1.0, 2.0, 3.0, 4.0)),
        (2.0, (5.0, 6.0, 7.0, 8.0)),
    ]
    python_style = "```\n[{'bbox_2d': [1, 2, 3, 4], 'label': 'a'}]\n```"
    assert parse_boxes(python_style).boxes[0].bbox == (1.0, 2.0, 3.0, 4.0)
    assert parse_box("[1, 2, 3]") is None


def test_unreadable_items_become_warnings() -> None:
    out = parse_boxes('[{"bbox_2d": [1, 2, "x", 4], "label": "a"}, {"bbox_2d": [1, 2, 3, 4]}]')
    assert len(out.boxes) == 1 and len(out.warnings) == 1
    out = parse_spans('{"events": [{"start": "soon", "end": 3}]}')
    assert out.spans == [] and out.warnings
    assert parse_spans("nothing useful").warnings


def test_answer_and_verse() -> None:
    out = parse_answer('{"answer": "一只猫", "verse": "月下猫影"}')
    assert (out.answer, out.verse) == ("一只猫", "月下猫影")
    assert parse_answer("plain words").answer == "plain words"
    assert parse_answer("   ").warnings


@given(st.lists(st.tuples(TIMES, TIMES, LABELS), max_size=6), st.integers(0, 4))
def test_spans_round_trip(items: list[tuple[float, float, str]], style: int) -> None:
    records: list[dict[str, Any]] = [
        {"start": a, "end": b, "label": label} for a, b, label in items
    ]
    if style == 0:
        text = json.dumps({"events": records}, ensure_ascii=False)
    elif style == 1:
        text = "Sure!\n```json\n" + json.dumps(records, ensure_ascii=False) + "\n```"
    elif style == 2:  # Qwen3-VL dense captions: mm:ss.ff keys (distinct keys only)
        unique = {f"{clock(a)} - {clock(b)}": label for a, b, label in items}
        text = json.dumps(unique, ensure_ascii=False)
        records = [
            {
                "start": parse_time(k.split(" - ")[0]),
                "end": parse_time(k.split(" - ")[1]),
                "label": v,
            }
            for k, v in unique.items()
        ]
    elif style == 3:
        text = json.dumps(
            [
                {"start_time": clock(a, True), "end_time": clock(b, True), "event": label}
                for a, b, label in items
            ],
            ensure_ascii=False,
        )
    else:  # prose, one range per sentence
        text = " ".join(f"It happens in {a} - {b} seconds." for a, b, _ in items)
        records = [{"start": a, "end": b, "label": ""} for a, b, _ in items]
    out = parse_spans(text)
    got = [(round(s.start, 2), round(s.end, 2), s.text) for s in out.spans]
    want = [(round(r["start"], 2), round(r["end"], 2), r["label"]) for r in records]
    assert got == want


@given(st.lists(st.tuples(COORD, COORD, COORD, COORD, LABELS), max_size=6), st.booleans())
def test_boxes_round_trip(items: list[tuple[int, int, int, int, str]], fenced: bool) -> None:
    records: list[dict[str, Any]] = [
        {"bbox_2d": [a, b, c, d], "label": label} for a, b, c, d, label in items
    ]
    body = json.dumps(records, ensure_ascii=False)
    text = f"```json\n{body}\n```" if fenced else f"The objects: {body} (done)"
    got = [(b.bbox, b.label) for b in parse_boxes(text).boxes]
    assert got == [(tuple(float(v) for v in r["bbox_2d"]), r["label"]) for r in records]


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5000, 5000)
    | st.floats(allow_nan=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=300), JSON.map(lambda v: json.dumps(v, ensure_ascii=False))))
def test_garbage_never_raises_never_invents(text: str) -> None:
    allowed = written_values(text)
    spans, boxes, answer = parse_spans(text), parse_boxes(text), parse_answer(text)
    for span in spans.spans:
        assert span.start in allowed and span.end in allowed
    for box in boxes.boxes:
        assert all(abs(v) in allowed for v in box.bbox)
        assert box.time is None or box.time in allowed
    if not spans.spans:
        assert spans.warnings or text.strip()[:1] in "[{" or extract_json(text) is not None
    assert answer.answer in text or answer.warnings or extract_json(text) is not None


REAL = (
    '```json\n[{"bbox_2d": [135, 114, 1016, 672], "label": "cat"}, {"bbox_2d": [1, 2, 3, 4]}]\n```',
    '{"00:23.00 - 00:48.00": "a man walks", "00:48.00 - 01:02.50": "he sits"}',
    '[{"time": "00:01.50", "bbox_2d": [10, 20, 300, 400], "label": "ball"}]',
    "The event happens in 64.0 - 72.0 seconds, and again from 1:02 to 1:10.",
)


@given(st.sampled_from(REAL), st.integers(0, 120), st.text(max_size=5))
def test_cut_or_spliced_real_answers(real: str, cut: int, noise: str) -> None:
    text = real[:cut] + noise
    allowed = written_values(text)
    for span in parse_spans(text).spans:
        assert span.start in allowed and span.end in allowed
    for box in parse_boxes(text).boxes:
        assert all(v in allowed for v in box.bbox)
