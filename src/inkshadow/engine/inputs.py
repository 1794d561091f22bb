"""Turn engine messages into what a Qwen processor takes, for a whole batch at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from inkshadow.engine.types import ImagePart, Message, TextPart, VideoPart
from inkshadow.errors import InvalidRequest
from inkshadow.families import Family


@dataclass(frozen=True)
class Prepared:
    """One request rendered for the processor: the prompt text and its media, in order."""

    prompt: str
    images: tuple[Image.Image, ...]
    videos: tuple[VideoPart, ...]


def render(messages: Sequence[Message], family: Family, processor: Any) -> Prepared:
    """Apply the model's chat template; media become the family's placeholders."""
    images: list[Image.Image] = []
    videos: list[VideoPart] = []
    chat: list[dict[str, Any]] = []
    for message in messages:
        if not family.is_vision:
            if any(not isinstance(p, TextPart) for p in message.content):
                raise InvalidRequest(
                    "this model reads text only; remove image_url and video_url parts",
                    param="messages",
                )
            text = "".join(p.text for p in message.content if isinstance(p, TextPart))
            chat.append({"role": message.role, "content": text})
            continue
        content: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                images.append(part.image)
                content.append({"type": "image"})
            else:
                videos.append(part)
                content.append({"type": "video"})
        chat.append({"role": message.role, "content": content})
    prompt = processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return Prepared(str(prompt), tuple(images), tuple(videos))


def processor_kwargs(batch: Sequence[Prepared], family: Family) -> dict[str, Any]:
    """Keyword arguments for one processor call over a batch (left padding is set on the
    tokenizer). Videos carry their true sampling: Qwen2.5-VL reads the sampling fps through
    MRoPE, Qwen3-VL prints `<t seconds>` markers from the frame metadata."""
    kwargs: dict[str, Any] = {
        "text": [p.prompt for p in batch],
        "padding": True,
        "return_tensors": "pt",
    }
    images = [img for p in batch for img in p.images]
    videos = [vid for p in batch for vid in p.videos]
    if images:
        kwargs["images"] = images
    if videos:
        kwargs["videos"] = [v.frames for v in videos]
        from transformers.video_utils import VideoMetadata

        kwargs["video_metadata"] = [_metadata(VideoMetadata, v, family) for v in videos]
        # Frames were already sampled and sized by our sampler (smart_nframes /
        # smart_resize); doing either again would change what the model sees.
        kwargs["videos_kwargs"] = {
            "do_sample_frames": False,
            "do_resize": False,
            "cap_pixels_per_frame": True,
        }
    return kwargs


def _metadata(cls: Any, video: VideoPart, family: Family) -> Any:
    """Frame metadata as transformers 5 reads it.

    Qwen3-VL prints `<t seconds>` markers from frames_indices / fps: give it the true source
    indices and fps, so times are on the original timeline. Qwen2.5-VL only uses
    len(frames_indices) / total_num_frames * fps as the sampling rate behind MRoPE time;
    describing the sampled frames themselves at `sample_fps` makes that exactly qwen-vl-utils'
    rate, also for clips and chunks (the whole video's frame count would not).
    """
    if family is Family.QWEN3_VL:
        return cls(
            total_num_frames=video.source_frames,
            fps=video.source_fps,
            duration=video.duration,
            frames_indices=list(video.indices),
        )
    count = len(video.indices)
    return cls(
        total_num_frames=count,
        fps=video.sample_fps,
        duration=count / video.sample_fps,
        frames_indices=list(range(count)),
    )
