"""Which frames to sample and at what size: qwen-vl-utils 0.0.14's rules, reproduced exactly.

Pure arithmetic over a probed `VideoInfo`; no decoding. The model was trained on frames chosen
by `smart_nframes` + `torch.linspace(...).round()` and sized by `smart_resize`, so we match
its indices and sizes exactly (tests compare against qwen-vl-utils itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inkshadow.errors import InvalidRequest, UnsupportedMedia
from inkshadow.families import Family
from inkshadow.media.video import VideoInfo

# qwen-vl-utils 0.0.14 constants shared by both families.
FRAME_FACTOR = 2
FPS = 2.0
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768
MAX_RATIO = 200
VIDEO_MIN_TOKEN_NUM = 128
VIDEO_MAX_TOKEN_NUM = 768
# qwen-vl-utils reads MODEL_SEQ_LEN from the environment (default 128000); we take the
# default and let callers pass `total_pixels` instead of reading the environment.
MODEL_SEQ_LEN = 128000


@dataclass(frozen=True)
class VideoBudget:
    """Per-family pixel and frame budgets as `fetch_video` derives them."""

    factor: int
    min_pixels: int
    max_pixels: int
    total_pixels: float
    frame_factor: int = FRAME_FACTOR
    fps: float = FPS
    min_frames: int = FPS_MIN_FRAMES
    max_frames: int = FPS_MAX_FRAMES


def video_budget(family: Family) -> VideoBudget:
    """Defaults for a family: factor = image_patch_size * 2 (14 → 28, Qwen3-VL's 16 → 32)."""
    if not family.is_vision:
        raise InvalidRequest(f"model family {family.value} does not take video", param="model")
    f = family.patch_factor
    return VideoBudget(
        factor=f,
        min_pixels=VIDEO_MIN_TOKEN_NUM * f * f,
        max_pixels=VIDEO_MAX_TOKEN_NUM * f * f,
        # A float, as in qwen-vl-utils (`* 0.9`); it feeds a float division below.
        total_pixels=MODEL_SEQ_LEN * f * f * 0.9,
    )


@dataclass(frozen=True)
class SamplingRequest:
    family: Family
    fps: float = 2.0
    max_frames: int | None = None
    min_frames: int | None = None
    start: float | None = None
    end: float | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    total_pixels: int | None = None


@dataclass(frozen=True)
class SamplingPlan:
    """Frame indices on the original video, their times (seconds), the model input size and
    the sampling fps Qwen2.5-VL's processor takes (`nframes / clip_frames * video_fps`)."""

    indices: tuple[int, ...]
    timestamps: tuple[float, ...]
    width: int
    height: int
    sample_fps: float


def round_by_factor(number: float, factor: int) -> int:
    return round(number / factor) * factor


def ceil_by_factor(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def floor_by_factor(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def smart_resize(
    height: int, width: int, factor: int, min_pixels: float, max_pixels: float
) -> tuple[int, int]:
    """(height, width), multiples of `factor`, area within [min_pixels, max_pixels]."""
    if max_pixels < min_pixels:
        raise InvalidRequest("max_pixels must be at least min_pixels", param="max_pixels")
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise UnsupportedMedia(f"aspect ratio above {MAX_RATIO} is not supported")
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


def smart_nframes(
    total_frames: int,
    video_fps: float,
    *,
    fps: float = FPS,
    min_frames: int | None = None,
    max_frames: int | None = None,
) -> int:
    """How many frames to sample from `total_frames` (the clip's frames)."""
    lo = ceil_by_factor(min_frames if min_frames is not None else FPS_MIN_FRAMES, FRAME_FACTOR)
    hi_raw = max_frames if max_frames is not None else min(FPS_MAX_FRAMES, total_frames)
    hi = floor_by_factor(hi_raw, FRAME_FACTOR)
    wanted = total_frames / video_fps * fps
    nframes = floor_by_factor(min(min(max(wanted, lo), hi), total_frames), FRAME_FACTOR)
    if not FRAME_FACTOR <= nframes <= total_frames:
        raise UnsupportedMedia(
            f"cannot sample {nframes} frames from {total_frames}: the video (or the chosen "
            f"time range) needs at least {FRAME_FACTOR} frames"
        )
    return nframes


def frame_range(
    total_frames: int, video_fps: float, start: float | None, end: float | None
) -> tuple[int, int]:
    """First and last frame (inclusive) of the clip, as `calculate_video_frame_range`."""
    if video_fps <= 0 or total_frames <= 0:
        raise UnsupportedMedia("the video has no frames or no frame rate")
    if start is None and end is None:
        return 0, total_frames - 1
    max_duration = total_frames / video_fps
    first = 0
    if start is not None:
        first = math.ceil(max(0.0, min(start, max_duration)) * video_fps)
    last = total_frames - 1
    if end is not None:
        last = min(math.floor(max(0.0, min(end, max_duration)) * video_fps), total_frames - 1)
    if first >= last:
        raise InvalidRequest(
            f"the time range {start}..{end} s holds fewer than 2 frames of this "
            f"{max_duration:.2f} s video",
            param="start",
        )
    return first, last


def linspace_indices(first: int, last: int, n: int) -> tuple[int, ...]:
    """`torch.linspace(first, last, n).round().long()` bit for bit, without torch.

    torch computes in float32: step = (end - start) / (n - 1); the first half as
    start + step * i, the second half as end - step * (n - 1 - i), each a fused multiply-add
    on x86 builds with AVX2/AVX-512 (one rounding; emulated in float64, where the product of
    a float32 and an integer below 2**24 is exact). Then round half to even. Plain float64
    arithmetic differs in ~1% of (length, n) pairs by one frame.
    """
    if n == 1:
        return (round(float(np.float32(first))),)
    start = np.float32(first)
    stop = np.float32(last)
    step = np.float64(np.float32((stop - start) / np.float32(n - 1)))
    i = np.arange(n, dtype=np.float64)
    low = np.float64(start) + step * i
    high = np.float64(stop) - step * (n - 1 - i)
    values = np.where(np.arange(n) < n // 2, low, high).astype(np.float32)
    return tuple(int(v) for v in np.rint(values))


def frame_budget(req: SamplingRequest, nframes: int) -> tuple[float, float]:
    """(min_pixels, max_pixels) per frame for `nframes` frames, as `fetch_video` computes."""
    b = video_budget(req.family)
    min_pixels: float = req.min_pixels if req.min_pixels is not None else b.min_pixels
    total = req.total_pixels if req.total_pixels is not None else b.total_pixels
    max_pixels = max(min(b.max_pixels, total / nframes * FRAME_FACTOR), int(min_pixels * 1.05))
    if req.max_pixels is not None:
        max_pixels = min(req.max_pixels, max_pixels)
    return min_pixels, max_pixels


def plan_sampling(info: VideoInfo, req: SamplingRequest) -> SamplingPlan:
    """Indices, timestamps and size exactly as qwen-vl-utils picks them for this video."""
    b = video_budget(req.family)
    if req.fps <= 0:
        raise InvalidRequest("fps must be positive", param="fps")
    first, last = frame_range(info.frames, info.fps, req.start, req.end)
    clip_frames = last - first + 1
    nframes = smart_nframes(
        clip_frames, info.fps, fps=req.fps, min_frames=req.min_frames, max_frames=req.max_frames
    )
    indices = linspace_indices(first, last, nframes)
    min_pixels, max_pixels = frame_budget(req, nframes)
    height, width = smart_resize(info.height, info.width, b.factor, min_pixels, max_pixels)
    return SamplingPlan(
        indices=indices,
        # Nominal times for constant-frame-rate video; the decoder replaces them with the
        # decoded frames' presentation times.
        timestamps=tuple(i / info.fps for i in indices),
        width=width,
        height=height,
        sample_fps=nframes / max(clip_frames, 1e-6) * info.fps,
    )
