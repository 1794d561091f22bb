"""Resolve the media of OpenAI-style messages into decoded, limit-checked engine parts.

Media go through the library: URLs land in the blob store, `file-<sha256>` ids are read
from it, and video frames come from the frame cache when the same sampling was done before."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from inkshadow.api.metrics import ApiMetrics
from inkshadow.api.schemas import ChatMessage, ImageContent, TextContent, VideoContent, VideoURL
from inkshadow.engine.types import ContentPart, ImagePart, Message, Role, TextPart, VideoPart
from inkshadow.errors import InvalidRequest
from inkshadow.families import Family
from inkshadow.media.images import check_image, load_image
from inkshadow.media.library import MediaLibrary
from inkshadow.settings import Settings


def count_media(messages: Sequence[ChatMessage]) -> int:
    return sum(
        1
        for m in messages
        if isinstance(m.content, list)
        for p in m.content
        if not isinstance(p, TextContent)
    )


class MediaResolver:
    """Fetches, checks and decodes images and videos for one request at a time."""

    def __init__(self, settings: Settings, library: MediaLibrary, metrics: ApiMetrics) -> None:
        self._settings = settings
        self._library = library
        self._metrics = metrics

    async def messages(self, body: Sequence[ChatMessage], family: Family) -> tuple[Message, ...]:
        media = count_media(body)
        if media > self._settings.max_media_parts:
            raise InvalidRequest(
                f"{media} images and videos in one request; the limit is "
                f"{self._settings.max_media_parts}",
                param="messages",
            )
        if media and not family.is_vision:
            raise InvalidRequest(
                "this model reads text only; remove image_url and video_url parts",
                param="messages",
            )
        if not media:
            return tuple([await self._message(m, family) for m in body])
        started = time.perf_counter()
        try:
            return tuple([await self._message(m, family) for m in body])
        finally:
            self._metrics.preprocess_seconds.observe(time.perf_counter() - started)

    async def _message(self, message: ChatMessage, family: Family) -> Message:
        role: Role = "system" if message.role == "developer" else message.role
        content = message.content
        if content is None:
            return Message(role, ())
        if isinstance(content, str):
            return Message(role, (TextPart(content),))
        parts: list[ContentPart] = []
        for part in content:
            if isinstance(part, TextContent):
                parts.append(TextPart(part.text))
            elif isinstance(part, ImageContent):
                parts.append(await self._image(part.image_url.url))
            elif isinstance(part, VideoContent):
                parts.append(await self._video(part.video_url, family))
        return Message(role, tuple(parts))

    async def _image(self, url: str) -> ImagePart:
        path = await self._library.local_path(url)
        check_image(path, self._settings)
        image = await asyncio.to_thread(load_image, path, self._settings)
        return ImagePart(image)

    async def _video(self, spec: VideoURL, family: Family) -> VideoPart:
        s = self._settings
        blob = await self._library.ingest(spec.url, max_bytes=s.video_max_bytes, param="video_url")
        # Probes (or recalls) the video and refuses over-long or giant ones before decoding.
        source = await self._library.open_video(blob, family)
        info = source.info
        if spec.start is not None and spec.start >= info.duration:
            raise InvalidRequest(
                f"start {spec.start} s is past the end of the video ({info.duration:.2f} s)",
                param="video_url.start",
            )
        # A request may lower the frame cap, never raise it.
        sampled = await source.sample(
            fps=spec.fps or s.video_fps,
            max_frames=min(spec.max_frames or s.video_max_frames, s.video_max_frames),
            start=spec.start,
            end=spec.end,
        )
        plan = sampled.plan
        self._metrics.frames_decoded.inc(len(plan.indices))
        return VideoPart(
            frames=sampled.frames,
            timestamps=plan.timestamps,
            indices=plan.indices,
            sample_fps=plan.sample_fps,
            source_fps=sampled.info.fps,
            source_frames=sampled.info.frames,  # the decoder's count, not the header's
            duration=sampled.info.duration,
        )
