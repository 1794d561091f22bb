"""Real media for API tests, as data URLs: PNG images and H.264 MP4 videos made on the spot."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.media.videos import make_video


def png_data_url(width: int = 96, height: int = 64, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def mp4_data_url(tmp: Path, *, frames: int = 60, fps: int = 30) -> str:
    path = make_video(tmp / f"v{frames}-{fps}.mp4", frames=frames, fps=fps, width=160, height=120)
    return "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode()
