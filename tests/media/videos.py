"""Make test videos with PyAV whose frames say which frame they are.

Each frame carries its index as a row of black/white blocks along the top (12 bits, blocks
large enough to survive H.264 at the quality used), over a moving gradient and box so that
neighbouring frames differ in their pixels too. `read_frame_number` reads the index back from
a decoded RGB frame at source size.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

BITS = 12
BAND = 16  # height of the bit row in pixels

Image = npt.NDArray[np.uint8]


def frame_image(index: int, width: int, height: int) -> Image:
    y, x = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[..., 0] = (x * 255 // max(width - 1, 1) + index * 3) % 256
    img[..., 1] = (y * 255 // max(height - 1, 1) + index * 5) % 256
    img[..., 2] = ((x + y + index * 7) % 64) * 4
    side = max(8, height // 4)
    bx = (index * 4) % max(1, width - side)
    by = BAND + (index * 2) % max(1, height - BAND - side)
    img[by : by + side, bx : bx + side] = (255, 255, 255)
    block = width // BITS
    img[:BAND] = 128
    for bit in range(BITS):
        on = (index >> bit) & 1
        img[:BAND, bit * block : (bit + 1) * block] = 255 if on else 0
    return img


def read_frame_number(rgb: Image, source_width: int, source_height: int) -> int:
    """The index drawn by `frame_image`, read from a frame at any size (scaled coordinates)."""
    sy = rgb.shape[0] / source_height
    sx = rgb.shape[1] / source_width
    block = source_width // BITS
    row = rgb[int(BAND / 2 * sy)].astype(np.int32).mean(axis=1)
    value = 0
    for bit in range(BITS):
        if row[int((bit * block + block / 2) * sx)] > 128:
            value |= 1 << bit
    return value


def make_video(
    path: Path,
    *,
    frames: int,
    fps: Fraction | int = 30,
    width: int = 160,
    height: int = 120,
    gop: int = 30,
    bframes: int = 3,
    faststart: bool = False,
) -> Path:
    """An H.264 MP4 with keyframes exactly every `gop` frames (scene cuts off)."""
    if frames >= 1 << BITS:
        raise ValueError("too many frames for the bit pattern")
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "preset": "ultrafast",  # fast to encode; B-frames (reordering) set explicitly
            "bf": str(0 if gop == 1 else bframes),
            "crf": "12",
        }
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height), format="rgb24")
            frame.pts = i
            frame.time_base = 1 / Fraction(fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_audio_only(path: Path, seconds: float = 1.0) -> Path:
    rate = 16000
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        samples = int(rate * seconds)
        tone = np.sin(np.arange(samples) * 2 * np.pi * 440 / rate).astype(np.float32)
        chunk = 1024
        for start in range(0, samples, chunk):
            part = tone[None, start : start + chunk]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(part), format="fltp", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def decode_all(path: Path) -> list[Image]:
    """Every frame, in presentation order, decoded sequentially: the reference."""
    with av.open(str(path)) as container:
        frames = [(f.pts, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    frames.sort(key=lambda item: item[0])
    return [img for _, img in frames]
