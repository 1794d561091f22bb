"""How already-sampled video frames travel to an OpenAI-compatible upstream (vLLM).

The upstream only takes a video as a `video_url`. We have already sampled and resized the
frames the model should see, so we send exactly those frames and the request fields that
stop vLLM from sampling them again. Two forms, both checked against vLLM 0.32 through
prompt token counts (and prompt logprobs):

- An MP4 clip, one clip frame per sampled frame at the sampling rate. vLLM decodes every
  frame (`media_io_kwargs.video.num_frames = -1`; its default keeps 32) and takes time from
  the clip's rate: Qwen2.5-VL's MRoPE step is right (it only needs the rate), but Qwen3-VL's
  `<t seconds>` markers count from the clip's first frame.
- For Qwen3-VL, a `video/jpeg` frame list whose `media_io_kwargs` carry the source fps and
  the frames' source indices: vLLM then writes true timestamps into the markers. Those
  kwargs are per request, not per video, so this form serves one video per request.

Both need `mm_processor_kwargs.do_sample_frames = False` (otherwise Qwen3-VL's processor
resamples a fully decoded video at its own 2 fps) and `do_resize = False` (otherwise the
processor resizes again once frames x height x width passes its total-pixel cap, and the
model would not see qwen-vl-utils' sizes), and vLLM started with
`--trust-request-mm-kwargs`.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from inkshadow.engine.types import VideoPart
from inkshadow.families import Family

# Visually near-lossless at a fraction of the raw size; the frames are small already.
_CRF = "18"
_JPEG_QUALITY = 95


@dataclass(frozen=True)
class VideoUpload:
    urls: tuple[str, ...]  # one `video_url` per video, in message order
    request_fields: dict[str, Any]  # merged into the chat completion request


def video_upload(videos: Sequence[VideoPart], family: Family) -> VideoUpload:
    """The data URLs and request fields that hand `videos` to vLLM frame for frame."""
    if family is Family.QWEN3_VL and len(videos) == 1:
        video = videos[0]
        io_kwargs = {
            "num_frames": -1,
            "fps": video.source_fps,
            "frames_indices": [int(i) for i in video.indices],
            "total_num_frames": max(video.source_frames, int(video.indices[-1]) + 1),
            "duration": video.duration,
        }
        return VideoUpload(
            (jpeg_frames_url(video.frames),),
            {
                "media_io_kwargs": {"video": io_kwargs},
                "mm_processor_kwargs": {"do_sample_frames": False, "do_resize": False},
            },
        )
    rates = [float(clip_rate(v.sample_fps)) for v in videos]
    fps: float | list[float] = rates[0] if len(set(rates)) == 1 else rates
    urls = tuple(
        "data:video/mp4;base64," + _b64(encode_clip(v.frames, v.sample_fps)) for v in videos
    )
    return VideoUpload(
        urls,
        {
            "media_io_kwargs": {"video": {"num_frames": -1}},
            # `fps` equals the clip rate vLLM reads anyway; some upstreams take it from here.
            "mm_processor_kwargs": {"fps": fps, "do_sample_frames": False, "do_resize": False},
        },
    )


def jpeg_frames_url(frames: NDArray[np.uint8]) -> str:
    """vLLM's `video/jpeg` form: base64 JPEG frames joined by commas."""
    parts = []
    for array in frames:
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=_JPEG_QUALITY)
        parts.append(_b64(buffer.getvalue()))
    return "data:video/jpeg;base64," + ",".join(parts)


def clip_rate(sample_fps: float) -> Fraction:
    """The clip's frame rate: the sampling rate as a small exact fraction.

    Containers store rates as fractions; limiting the denominator keeps common rates exact
    (2, 0.5, 30000/1001) and odd ones within a hair of the truth.
    """
    if not sample_fps > 0:
        raise ValueError("sample_fps must be positive")
    return Fraction(sample_fps).limit_denominator(1001)


def encode_clip(frames: NDArray[np.uint8], sample_fps: float) -> bytes:
    """Encode (T, H, W, 3) uint8 RGB frames as H.264 yuv420p MP4 bytes, every frame kept."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError("frames must be a non-empty (T, H, W, 3) array")
    frames = _even(np.ascontiguousarray(frames, dtype=np.uint8))
    rate = clip_rate(sample_fps)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width = frames.shape[2]
        stream.height = frames.shape[1]
        stream.pix_fmt = "yuv420p"
        # One time-base tick per frame keeps pts exact at any fractional rate.
        stream.codec_context.time_base = 1 / rate
        stream.options = {"crf": _CRF, "preset": "veryfast"}
        for pts, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = pts
            frame.time_base = stream.codec_context.time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def _even(frames: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """yuv420p needs even sides: repeat the last row/column when one is odd."""
    _, height, width, _ = frames.shape
    pad_h, pad_w = height % 2, width % 2
    if not pad_h and not pad_w:
        return frames
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
