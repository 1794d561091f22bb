"""Single frames of a video at given times, at source size, for pictures of a result (the
web UI's gallery, `inkshadow analyze --preview`). Not the sampler: no budgets, no resize."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
from PIL import Image

from inkshadow.errors import UnsupportedMedia


def frames_at(path: Path, times: Sequence[float]) -> dict[float, Image.Image]:
    """The frame shown at each time (the last frame starting at or before it)."""
    frames: dict[float, Image.Image] = {}
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UnsupportedMedia("the file has no video stream")
            stream = container.streams.video[0]
            base = stream.time_base
            if base is None:
                raise UnsupportedMedia("the video stream has no time base")
            for want in sorted(set(times)):
                container.seek(int(max(0.0, want) / base), stream=stream, backward=True)
                best: Image.Image | None = None
                for frame in container.decode(stream):
                    at = float(frame.pts * base) if frame.pts is not None else 0.0
                    if best is not None and at > want + 1e-6:
                        break
                    best = Image.fromarray(frame.to_ndarray(format="rgb24"))
                if best is not None:
                    frames[want] = best
    except av.FFmpegError as exc:
        raise UnsupportedMedia("the file is not a readable video (corrupt or truncated)") from exc
    return frames
