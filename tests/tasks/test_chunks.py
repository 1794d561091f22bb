"""Chunk planning for long videos and merging the chunks' results."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inkshadow.errors import InvalidRequest
from inkshadow.tasks.chunks import dedupe_boxes, merge_results, merge_spans, plan_chunks
from inkshadow.tasks.types import ChunkPolicy


def test_short_range_is_one_chunk() -> None:
    assert [(w.start, w.end) for w in plan_chunks(0, 100, ChunkPolicy(300, 5, 64))] == [(0, 100)]


def test_overlapping_chunks() -> None:
    windows = plan_chunks(0, 1000, ChunkPolicy(300, 10, 64))
    assert [(w.start, w.end) for w in windows] == [(0, 300), (290, 590), (580, 880), (870, 1000)]


def test_sliver_tail_folds_into_last_chunk() -> None:
    windows = plan_chunks(0, 605, ChunkPolicy(300, 10, 64))
    assert [(w.start, w.end) for w in windows] == [(0, 300), (290, 605)]


def test_empty_range_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        plan_chunks(5, 5, ChunkPolicy(10, 1, 8))


@given(
    st.floats(0, 1000),
    st.floats(0.5, 5000),
    st.floats(1, 600),
    st.floats(0, 700),
)
def test_chunks_cover_the_range_in_order(
    start: float, length: float, size: float, overlap: float
) -> None:
    end = start + length
    windows = plan_chunks(start, end, ChunkPolicy(size, overlap, 8))
    assert windows[0].start == start and windows[-1].end == end
    for a, b in itertools.pairwise(windows):
        assert a.start < b.start <= a.end  # no gap, always moving forward
    assert all(w.end - w.start <= size * 1.75 + 1e-9 for w in windows)


def test_merge_spans_joins_same_label_overlaps_and_touches() -> None:
    items = [
        {"start": 10.0, "end": 20.0, "label": "run"},
        {"start": 18.0, "end": 25.0, "label": "Run"},  # overlap from the next chunk
        {"start": 25.0, "end": 30.0, "label": "run"},  # touching
        {"start": 40.0, "end": 45.0, "label": "run"},
        {"start": 12.0, "end": 14.0, "label": "jump"},
    ]
    assert merge_spans(items, "label") == [
        {"start": 10.0, "end": 30.0, "label": "run"},
        {"start": 12.0, "end": 14.0, "label": "jump"},
        {"start": 40.0, "end": 45.0, "label": "run"},
    ]


def test_duplicate_boxes_from_overlaps_are_dropped() -> None:
    a = {"time": 5.0, "bbox": [0.0, 0.0, 100.0, 100.0], "label": "x"}
    near = {"time": 5.0, "bbox": [2.0, 2.0, 101.0, 101.0], "label": "x"}
    other_time = {"time": 5.5, "bbox": [0.0, 0.0, 100.0, 100.0], "label": "x"}
    apart = {"time": 5.0, "bbox": [50.0, 50.0, 150.0, 150.0], "label": "x"}
    assert dedupe_boxes([[other_time, a], [near, apart]]) == [a, apart, other_time]


def test_overlap_sightings_a_step_apart_are_one() -> None:
    """Two chunks sample different frames of their overlap: the later chunk's box of the
    same object one step later is a duplicate; a still object within one chunk is not."""
    first = [{"time": t, "bbox": [10.0, 10.0, 50.0, 50.0], "label": "cup"} for t in (8.0, 8.5)]
    second = [
        {"time": 8.3, "bbox": [11.0, 10.0, 51.0, 50.0], "label": "Cup"},  # same sighting
        {"time": 8.3, "bbox": [11.0, 10.0, 51.0, 50.0], "label": "dog"},  # another label
        {"time": 9.6, "bbox": [10.0, 10.0, 50.0, 50.0], "label": "cup"},  # later than a step
    ]
    merged = dedupe_boxes([first, second], within_s=0.5)
    assert [(r["time"], r["label"]) for r in merged] == [
        (8.0, "cup"), (8.3, "dog"), (8.5, "cup"), (9.6, "cup")
    ]  # fmt: skip
    assert len(dedupe_boxes([first, second])) == 5  # exact times only: nothing is dropped


def test_merge_results_per_task() -> None:
    chunk1 = [{"start": 0.0, "end": 5.0, "description": "walks"}]
    chunk2 = [{"start": 4.0, "end": 9.0, "description": "walks"}]
    assert merge_results("describe", [chunk1, chunk2]) == [
        {"start": 0.0, "end": 9.0, "description": "walks"}
    ]
    box = {"time": 1.0, "bbox": [0.0, 0.0, 10.0, 10.0], "label": "b"}
    assert merge_results("track", [[box], [dict(box)]]) == [box]
