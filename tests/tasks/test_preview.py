"""The picture `inkshadow analyze --preview` writes: boxes land where the result puts them
(original pixels, scaled with the frame), events on the timeline, frames when there are none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inkshadow.tasks.marks import Event, events_of
from inkshadow.tasks.preview import PAD, TILE_W, render_preview, tiles_of
from tests.media.videos import make_video

W, H = 640, 480


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("preview") / "v.mp4", frames=48, fps=24,
                      width=W, height=H)  # fmt: skip


def result(items: list[dict[str, Any]], task: str = "spatial") -> dict[str, Any]:
    return {"task": task, "video": {"duration": 2.0, "fps": 24, "width": W, "height": H},
            "results": items, "warnings": []}  # fmt: skip


def test_tiles_follow_boxes_then_events_then_even_spread() -> None:
    boxes = result([{"time": 1.0, "bbox": [0, 0, 10, 10], "label": "b"},
                    {"time": 0.5, "bbox": [0, 0, 5, 5], "label": "a"},
                    {"time": 1.0, "bbox": [1, 1, 9, 9], "label": "a"}])  # fmt: skip
    assert [(t.time, len(t.boxes), t.caption) for t in tiles_of(boxes)] == [
        (0.5, 1, "a"),
        (1.0, 2, "a, b"),
    ]
    events = result([{"start": 0.2, "end": 0.6, "label": "x"}], "temporal")
    assert [t.time for t in tiles_of(events)] == [pytest.approx(0.4)]
    assert events_of(events) == [Event(0.2, 0.6, "x")]
    assert len(tiles_of(result([], "ask"))) == 6
    assert events_of(result([{"start": "bad"}, "junk", {"time": 1.5, "label": "t"}])) == [  # type: ignore[list-item]
        Event(1.5, 1.5, "t")
    ]


def test_box_is_drawn_where_the_result_says(video: Path) -> None:
    # A box on the left half of the frame, in original pixels.
    box = [40, 200, 280, 440]
    picture = np.asarray(render_preview(video, result([{"time": 1.0, "bbox": box}]), "q"))
    scale = TILE_W / W
    # The tile's first row: down the middle column, past the short header line.
    mid = PAD + TILE_W // 2
    top = next(y for y in range(picture.shape[0]) if (picture[y, mid] != picture[0, 0]).any())
    red = np.array([0xFF, 0x3B, 0x30])

    def is_red(x: float, y: float) -> bool:
        pixel = picture[top + round(y * scale), PAD + round(x * scale)].astype(int)
        return bool(np.abs(pixel - red).max() < 40)

    assert is_red(box[0] + 2, (box[1] + box[3]) / 2)  # left edge (4 px wide at source)
    assert is_red((box[0] + box[2]) / 2, box[3] - 2)  # bottom edge
    assert not is_red(box[2] + 60, (box[1] + box[3]) / 2)  # outside the box
