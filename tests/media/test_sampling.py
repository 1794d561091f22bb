"""plan_sampling against qwen-vl-utils 0.0.14 itself, over a grid of videos and requests.

The reference is fetch_video's own sequence (decord/torchcodec path): calculate_video_frame_range,
smart_nframes, torch.linspace(...).round(), the per-frame pixel budget, smart_resize, all
called from qwen_vl_utils; only the decoding is left out.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from inkshadow.errors import InkshadowError
from inkshadow.families import Family
from inkshadow.media.sampling import (
    SamplingRequest,
    linspace_indices,
    plan_sampling,
    video_budget,
)
from inkshadow.media.video import VideoInfo

qv = pytest.importorskip("qwen_vl_utils.vision_process")
torch = pytest.importorskip("torch")

PATCH = {Family.QWEN2_5_VL: 14, Family.QWEN3_VL: 16}


def reference(info: VideoInfo, req: SamplingRequest) -> tuple[list[int], int, int, float]:
    ele: dict[str, Any] = {"fps": req.fps}
    for key, value in (
        ("max_frames", req.max_frames),
        ("min_frames", req.min_frames),
        ("video_start", req.start),
        ("video_end", req.end),
        ("min_pixels", req.min_pixels),
        ("max_pixels", req.max_pixels),
        ("total_pixels", req.total_pixels),
    ):
        if value is not None:
            ele[key] = value
    first, last, total = qv.calculate_video_frame_range(ele, info.frames, info.fps)
    nframes = qv.smart_nframes(ele, total_frames=total, video_fps=info.fps)
    idx = torch.linspace(first, last, nframes).round().long().tolist()
    sample_fps = nframes / max(total, 1e-6) * info.fps
    # fetch_video's budget, verbatim.
    factor = PATCH[req.family] * qv.SPATIAL_MERGE_SIZE
    min_pixels = ele.get("min_pixels", qv.VIDEO_MIN_TOKEN_NUM * factor * factor)
    total_pixels = ele.get("total_pixels", qv.MODEL_SEQ_LEN * factor * factor * 0.9)
    max_pixels = max(
        min(qv.VIDEO_MAX_TOKEN_NUM * factor * factor, total_pixels / nframes * qv.FRAME_FACTOR),
        int(min_pixels * 1.05),
    )
    max_pixels = min(ele.get("max_pixels", max_pixels), max_pixels)
    h, w = qv.smart_resize(
        info.height, info.width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels
    )
    return idx, w, h, sample_fps


def check(info: VideoInfo, req: SamplingRequest) -> None:
    try:
        want = reference(info, req)
    except (ValueError, AssertionError):
        with pytest.raises(InkshadowError):
            plan_sampling(info, req)
        return
    plan = plan_sampling(info, req)
    assert (list(plan.indices), plan.width, plan.height) == tuple(want[:3]), (info, req)
    assert plan.sample_fps == want[3]
    assert len(plan.timestamps) == len(plan.indices)


DURATIONS = [1.0, 2.5, 10.0, 61.0, 333.3, 1800.0]
RATES = [10.0, 24.0, 25.0, 30000 / 1001, 30.0, 60.0]
SIZES = [(320, 240), (640, 360), (1280, 720), (1920, 1080), (3840, 2160), (720, 1280), (1000, 7)]
FAMILIES = [Family.QWEN2_5_VL, Family.QWEN3_VL]


def info_for(duration: float, rate: float, size: tuple[int, int]) -> VideoInfo:
    return VideoInfo(
        duration=duration,
        fps=rate,
        width=size[0],
        height=size[1],
        frames=max(1, round(duration * rate)),
        codec="h264",
    )


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_default_and_fps_grid(family: Family) -> None:
    for duration, rate, size, fps in itertools.product(
        DURATIONS, RATES, SIZES, [0.1, 0.5, 1.0, 2.0, 4.0, 30.0]
    ):
        check(info_for(duration, rate, size), SamplingRequest(family, fps=fps))


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_frame_limits_and_clips(family: Family) -> None:
    clips = [(None, None), (1.5, None), (None, 0.7), (0.25, 0.75), (0.0, 99999.0), (0.5, 0.5)]
    for duration, rate, (mx, mn), (s, e) in itertools.product(
        DURATIONS, RATES, [(None, None), (16, None), (101, 8), (3, None), (None, 9)], clips
    ):
        start = None if s is None else s * (duration if s < 1 else 1)
        end = None if e is None else e * (duration if e < 1 else 1)
        req = SamplingRequest(family, fps=2.0, max_frames=mx, min_frames=mn, start=start, end=end)
        check(info_for(duration, rate, (1280, 720)), req)


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_pixel_budgets(family: Family) -> None:
    budgets: list[tuple[int | None, int | None, int | None]] = [
        (None, None, None),
        (64 * 28 * 28, None, None),
        (None, 256 * 28 * 28, None),
        (32 * 32 * 32, 1024 * 32 * 32, None),
        (None, None, 20480 * 28 * 28),
        (None, None, 1000 * 32 * 32),
        (4 * 28 * 28, 16384 * 28 * 28, 24576 * 28 * 28),
    ]
    for duration, size, (mn, mx, tot) in itertools.product([5.0, 61.0, 600.0], SIZES, budgets):
        req = SamplingRequest(family, min_pixels=mn, max_pixels=mx, total_pixels=tot)
        check(info_for(duration, 30.0, size), req)


def test_linspace_matches_torch_bit_for_bit() -> None:
    for first, length in itertools.product([0, 1, 37, 2997, 90000], range(2, 60000, 313)):
        for n in (2, 4, 10, 64, 100, 256, 510, 766, 768):
            if n <= length:
                last = first + length - 1
                want = torch.linspace(first, last, n).round().long().tolist()
                assert list(linspace_indices(first, last, n)) == want, (first, length, n)


def test_family_budgets() -> None:
    assert video_budget(Family.QWEN2_5_VL).factor == 28
    assert video_budget(Family.QWEN3_VL).factor == 32
    b = video_budget(Family.QWEN3_VL)
    assert (b.min_pixels, b.max_pixels) == (128 * 32 * 32, 768 * 32 * 32)
    assert math.isclose(b.total_pixels, 128000 * 32 * 32 * 0.9)
    assert (b.fps, b.min_frames, b.max_frames, b.frame_factor) == (2.0, 4, 768, 2)
    with pytest.raises(InkshadowError):
        video_budget(Family.QWEN2_5)


def test_too_short_video_is_refused() -> None:
    with pytest.raises(InkshadowError):
        plan_sampling(info_for(0.04, 25.0, (320, 240)), SamplingRequest(Family.QWEN3_VL))
