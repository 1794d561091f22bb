"""Where the generated test video's white square really is, and a saved result that says so
(no browser needed)."""

from __future__ import annotations

from typing import Any

from tests.media.videos import BAND


def box_truth(time_s: float, fps: int, width: int, height: int) -> list[float]:
    """Where tests/media/videos.py draws its white square in the frame shown at `time_s`."""
    index = int(time_s * fps)
    side = max(8, height // 4)
    bx = (index * 4) % max(1, width - side)
    by = BAND + (index * 2) % max(1, height - BAND - side)
    return [float(bx), float(by), float(bx + side), float(by + side)]


def spatial_result(video: dict[str, Any], times: list[float], fps: int) -> dict[str, Any]:
    """A saved spatial result (the shape the API and `inkshadow analyze` write) whose boxes
    are the truth, in original pixels."""
    w, h = int(video["width"]), int(video["height"])
    return {
        "task": "spatial",
        "video": video,
        "results": [
            {"time": t, "bbox": box_truth(t, fps, w, h), "label": "white square"} for t in times
        ],
        "text": "",
        "model": "truth",
        "warnings": [],
        "extra": {},
    }
