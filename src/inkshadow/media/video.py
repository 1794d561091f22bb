"""Probe a video file with PyAV: duration, frame rate, size, frame count, codec.

Reads the container header only (no decoding). Any file FFmpeg cannot open as a video —
empty, corrupt, truncated before its index, audio only — raises `UnsupportedMedia` with a
message fit for a client (no paths, no FFmpeg internals).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from inkshadow.errors import UnsupportedMedia


@dataclass(frozen=True)
class VideoInfo:
    duration: float
    fps: float
    width: int
    height: int
    frames: int
    codec: str


def open_video(path: Path) -> tuple[Any, Any]:
    """(container, first video stream); the caller closes the container."""
    if not path.is_file() or path.stat().st_size == 0:
        raise UnsupportedMedia("the video file is empty")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise UnsupportedMedia("the file is not a readable video (corrupt or truncated)") from exc
    if not container.streams.video:
        container.close()
        raise UnsupportedMedia("the file has no video stream")
    return container, container.streams.video[0]


def stream_info(container: Any, stream: Any) -> VideoInfo:
    """Header facts of an open stream. Frame rate: the average rate (what decord and
    torchcodec report), falling back to the guessed rate."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    width = int(stream.codec_context.width or 0)
    height = int(stream.codec_context.height or 0)
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000  # AV_TIME_BASE units
    else:
        duration = 0.0
    frames = int(stream.frames or 0)
    if frames <= 0 and duration > 0 and fps > 0:
        # Containers without a frame count (e.g. MPEG-TS, WebM): estimate; the decoder's
        # packet scan gives the true count.
        frames = round(duration * fps)
    if fps <= 0 or width <= 0 or height <= 0 or frames <= 0:
        raise UnsupportedMedia("the video stream has no frames, size or frame rate")
    return VideoInfo(
        duration=duration,
        fps=fps,
        width=width,
        height=height,
        frames=frames,
        codec=str(stream.codec_context.name),
    )


def probe_video(path: Path) -> VideoInfo:
    container, stream = open_video(path)
    try:
        return stream_info(container, stream)
    finally:
        container.close()
