"""Time and box mapping against known truth: a video with a white box moving along a known
path, answers written the way each family writes them, mapped back onto the original."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inkshadow.families import Family
from inkshadow.media.decode import SampledVideo, sample_video
from inkshadow.media.sampling import SamplingRequest
from inkshadow.tasks.answers import map_image_answer, map_video_answer
from inkshadow.tasks.mapping import (
    BoxFrame,
    image_input_size,
    map_box,
    map_span,
    nearest_frame_time,
    span_note,
    timeline,
)
from inkshadow.tasks.types import TaskName, TaskSpec
from tests.tasks.moving_box import HEIGHT, VISIBLE, WIDTH, box_at, make_moving_box, visible

FAMILIES = (Family.QWEN2_5_VL, Family.QWEN3_VL)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_moving_box(tmp_path_factory.mktemp("box") / "box.mp4")


def model_box(family: Family, box: tuple[int, ...], sampled: SampledVideo) -> list[int]:
    """The box as the family writes it: resized-input pixels, or 0-1000."""
    if family is Family.QWEN3_VL:
        sx, sy = 1000 / WIDTH, 1000 / HEIGHT
    else:
        sx, sy = sampled.plan.width / WIDTH, sampled.plan.height / HEIGHT
    return [round(box[0] * sx), round(box[1] * sy), round(box[2] * sx), round(box[3] * sy)]


def model_time(family: Family, t: float, sampled: SampledVideo) -> float:
    """Qwen2.5-VL counts from the first sampled frame; Qwen3-VL reads absolute markers."""
    return t - sampled.plan.timestamps[0] if family is Family.QWEN2_5_VL else t


def tolerance(family: Family, sampled: SampledVideo) -> float:
    """Half a model unit in source pixels (the model rounds), plus our 0.1 px rounding."""
    unit = WIDTH / 1000 if family is Family.QWEN3_VL else WIDTH / sampled.plan.width
    return unit / 2 + 0.1


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("clip", [(None, None), (0.5, 3.8)])
def test_track_lands_on_the_moving_box(
    family: Family, clip: tuple[float | None, float | None], video: Path
) -> None:
    sampled = sample_video(video, SamplingRequest(family, fps=4.0, start=clip[0], end=clip[1]))
    frames = [
        (i, t, k)
        for k, (i, t) in enumerate(zip(sampled.plan.indices, sampled.plan.timestamps, strict=True))
        if visible(i)
    ]
    assert len(frames) >= 4
    # The frames the model sees really show the box where the truth says (a white blob).
    for i, _, k in frames:
        ys, xs = np.nonzero(sampled.frames[k].min(axis=2) > 200)
        sx, sy = WIDTH / sampled.plan.width, HEIGHT / sampled.plan.height
        seen = (xs.min() * sx, ys.min() * sy, (xs.max() + 1) * sx, (ys.max() + 1) * sy)
        assert np.allclose(seen, box_at(i), atol=3)
    answer = [
        {
            "time": round(model_time(family, t, sampled), 2),
            "bbox_2d": model_box(family, box_at(i), sampled),
            "label": "white box",
        }
        for i, t, _ in frames
    ]
    text = "```json\n" + json.dumps(answer) + "\n```"
    tl = timeline(family, sampled.plan.timestamps, sampled.info.duration)
    frame = BoxFrame(family, sampled.plan.width, sampled.plan.height, WIDTH, HEIGHT)
    mapped = map_video_answer(TaskSpec("track", "white box"), text, tl, frame)
    assert mapped.warnings == []
    assert [r["time"] for r in mapped.results] == [round(t, 3) for _, t, _ in frames]
    tol = tolerance(family, sampled)
    for result, (i, _, _) in zip(mapped.results, frames, strict=True):
        assert np.allclose(result["bbox"], box_at(i), atol=tol), (result, box_at(i))


@pytest.mark.parametrize("family", FAMILIES)
def test_temporal_lands_on_the_visible_interval(family: Family, video: Path) -> None:
    sampled = sample_video(video, SamplingRequest(family, fps=4.0, start=0.5, end=3.8))
    start, end = (model_time(family, t, sampled) for t in VISIBLE)
    if family is Family.QWEN2_5_VL:  # its trained form: a sentence with seconds
        text = f"The white box is visible from {start:.1f} to {end:.1f} seconds."
    else:  # Qwen3-VL's dense-caption form with mm:ss.ff
        text = json.dumps({f"00:{start:05.2f} - 00:{end:05.2f}": "a white box moves right"})
    tl = timeline(family, sampled.plan.timestamps, sampled.info.duration)
    frame = BoxFrame(family, sampled.plan.width, sampled.plan.height, WIDTH, HEIGHT)
    task: TaskName = "temporal" if family is Family.QWEN2_5_VL else "describe"
    mapped = map_video_answer(TaskSpec(task, "white box"), text, tl, frame)
    assert mapped.warnings == []
    (result,) = mapped.results
    assert (result["start"], result["end"]) == pytest.approx(VISIBLE, abs=0.01)


def test_time_base_per_family() -> None:
    stamps = (10.0, 10.5, 11.0, 11.5)
    q25 = timeline(Family.QWEN2_5_VL, stamps, 60.0)
    q3 = timeline(Family.QWEN3_VL, stamps, 60.0)
    assert map_span(0.5, 1.0, q25) == (10.5, 11.0)  # relative: + first sampled frame
    assert map_span(10.5, 11.0, q3) == (10.5, 11.0)  # absolute
    assert map_span(1.0, 0.5, q25) == (10.5, 11.0)  # reversed ends are put in order
    assert map_span(-5, 0.2, q25) == (10.0, 10.2)  # clamped to the sampled range
    assert map_span(30, 40, q25) is None  # wholly outside: dropped, not moved to the edge
    # Reordering and clamping are said, not silent; an exact reading needs no note.
    assert "reversed" in (span_note(1.0, 0.5, (10.5, 11.0), q25) or "")
    assert "clamped" in (span_note(-5, 0.2, (10.0, 10.2), q25) or "")
    assert span_note(0.5, 1.0, (10.5, 11.0), q25) is None
    assert q25.hi == 12.0  # the last frame stands for one sampling step
    assert timeline(Family.QWEN3_VL, stamps, 11.8).hi == 11.8  # never past the video
    assert nearest_frame_time(0.7, q25) == 10.5
    assert nearest_frame_time(11.4, q3) == 11.5
    assert nearest_frame_time(50.0, q3) is None


def test_boxes_clamped_ordered_or_dropped() -> None:
    q25 = BoxFrame(Family.QWEN2_5_VL, 392, 280, 320, 240)
    q3 = BoxFrame(Family.QWEN3_VL, 448, 320, 320, 240)
    swapped = map_box((392, 280, 0, 0), q25)
    assert swapped[0] == [0.0, 0.0, 320.0, 240.0] and "swapped" in (swapped[1] or "")
    clamped = map_box((-50, -50, 2000, 2000), q3)
    assert clamped[0] == [0.0, 0.0, 320.0, 240.0] and "clamped" in (clamped[1] or "")
    assert map_box((0, 0, 1000, 1000), q3) == ([0.0, 0.0, 320.0, 240.0], None)  # exact edge
    assert map_box((500, 500, 500, 900), q3)[0] is None  # zero width
    assert map_box((1100, 10, 1200, 20), q3)[0] is None  # wholly outside


@pytest.mark.parametrize("family", FAMILIES)
def test_image_boxes_map_to_original_pixels(family: Family) -> None:
    width, height = 1280, 720
    in_w, in_h = image_input_size(family, width, height)
    assert in_w % family.patch_factor == 0 and in_h % family.patch_factor == 0
    truth = (100, 200, 700, 650)
    if family is Family.QWEN3_VL:
        sx, sy = 1000 / width, 1000 / height
    else:
        sx, sy = in_w / width, in_h / height
    written = [
        round(truth[0] * sx),
        round(truth[1] * sy),
        round(truth[2] * sx),
        round(truth[3] * sy),
    ]
    text = json.dumps([{"bbox_2d": written, "label": "car"}])
    frame = BoxFrame(family, in_w, in_h, width, height)
    mapped = map_image_answer(TaskSpec("spatial", "car"), text, [frame])
    unit = width / 1000 if family is Family.QWEN3_VL else width / in_w
    assert np.allclose(mapped.results[0]["bbox"], truth, atol=unit / 2 + 0.1)


def test_image_input_size_matches_the_processor() -> None:
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    for family, (factor, lo, hi) in (
        (Family.QWEN2_5_VL, (28, 3136, 12845056)),
        (Family.QWEN3_VL, (32, 65536, 16777216)),
    ):
        for w, h in ((1280, 720), (33, 47), (4000, 3000), (640, 480), (5000, 90)):
            rh, rw = smart_resize(h, w, factor=factor, min_pixels=lo, max_pixels=hi)
            assert image_input_size(family, w, h) == (rw, rh)
