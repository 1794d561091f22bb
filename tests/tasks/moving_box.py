"""A generated video with a white box moving along a known path, and a FrameSource over it.

The truth a mapping test checks against: at frame i (time i / fps) the box covers
`box_at(i)` in source pixels; the box is visible from `VISIBLE[0]` to `VISIBLE[1]` seconds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from inkshadow.families import Family
from inkshadow.media.decode import SampledVideo, sample_video
from inkshadow.media.sampling import SamplingRequest
from inkshadow.media.video import VideoInfo, probe_video

WIDTH, HEIGHT, FPS = 320, 240, 10
SIDE = 48
VISIBLE = (1.0, 3.0)  # seconds during which the box is on screen


def box_at(index: int) -> tuple[int, int, int, int]:
    """[x1, y1, x2, y2) of the box at frame `index`, source pixels: left to right, drifting
    down."""
    x = 8 + index * 6
    y = 40 + index * 2
    return x, y, x + SIDE, y + SIDE


def visible(index: int) -> bool:
    return VISIBLE[0] <= index / FPS < VISIBLE[1]


def make_moving_box(path: Path, frames: int = 40) -> Path:
    """An H.264 MP4 at FPS frames a second: dark grey, the white box while visible."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.options = {"g": "10", "crf": "12", "preset": "ultrafast"}
        for i in range(frames):
            img = np.full((HEIGHT, WIDTH, 3), 40, dtype=np.uint8)
            if visible(i):
                x1, y1, x2, y2 = box_at(i)
                img[y1:y2, x1:x2] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@dataclass
class FileSource:
    """FrameSource over a local file, decoding with the media sampler (no cache)."""

    path: Path
    family: Family
    calls: list[tuple[float | None, float | None]] = field(default_factory=list)

    @property
    def info(self) -> VideoInfo:
        return probe_video(self.path)

    async def sample(
        self, *, fps: float, max_frames: int, start: float | None, end: float | None
    ) -> SampledVideo:
        self.calls.append((start, end))
        req = SamplingRequest(self.family, fps=fps, max_frames=max_frames, start=start, end=end)
        return await asyncio.to_thread(sample_video, self.path, req, threads=2)
