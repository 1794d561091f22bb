"""A `FrameSource` over one video file (usually a blob): probe once, check the limits, then
sample in a worker thread through the frame cache."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from inkshadow.errors import MediaError, VideoTooLong
from inkshadow.families import Family
from inkshadow.media.blobs import BlobStore
from inkshadow.media.decode import SampledVideo, ScannedVideo, sample_video, scan_video
from inkshadow.media.frame_cache import FrameCache, FrameKey
from inkshadow.media.sampling import SamplingRequest
from inkshadow.media.video import VideoInfo, probe_video
from inkshadow.settings import Settings

PathFn = Callable[[], Path]


def check_video_limits(info: VideoInfo, settings: Settings) -> None:
    """Refuse what would cost too much before any frame is decoded."""
    if info.duration > settings.video_max_duration_s:
        raise VideoTooLong(
            f"the video lasts {info.duration:.0f} s; the limit is "
            f"{settings.video_max_duration_s:.0f} s"
        )
    # One decoded frame must stay affordable: the image pixel cap applies to video frames.
    if info.width * info.height > settings.image_max_pixels:
        raise MediaError(
            f"video frames of {info.width}x{info.height} are larger than "
            f"{settings.image_max_pixels} pixels",
            code="video_too_large",
        )


class CachedFrameSource:
    """Frames of one video on demand; `decoded` counts frames really decoded (not cached)."""

    def __init__(
        self,
        path: PathFn,
        info: VideoInfo,
        family: Family,
        *,
        sha256: str | None,
        cache: FrameCache | None,
        exact_resize: bool = True,
        on_decoded: Callable[[int], None] | None = None,
    ) -> None:
        self._path = path
        self._info = info
        self.family = family
        self.sha256 = sha256
        self._cache = cache if sha256 is not None else None
        self._exact = exact_resize
        self._on_decoded = on_decoded
        self._scanned: ScannedVideo | None = None
        self._scan_lock = threading.Lock()
        self.decoded = 0
        self.scans = 0  # whole-file packet scans made (one per source, whatever the chunks)

    @property
    def info(self) -> VideoInfo:
        return self._info

    async def sample(
        self, *, fps: float, max_frames: int, start: float | None, end: float | None
    ) -> SampledVideo:
        request = SamplingRequest(
            family=self.family, fps=fps, max_frames=max_frames, start=start, end=end
        )
        return await asyncio.to_thread(self._sample, request)

    def _sample(self, request: SamplingRequest) -> SampledVideo:
        key = None
        if self._cache is not None and self.sha256 is not None:
            key = FrameKey(self.sha256, request, self._exact)
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        path = self._path()
        sampled = sample_video(
            path, request, exact_resize=self._exact, scanned=self._scan_once(path)
        )
        self.decoded += len(sampled.plan.indices)
        if self._on_decoded is not None:
            self._on_decoded(len(sampled.plan.indices))
        # The decoder's packet scan knows the true frame count; later plans use it.
        self._info = sampled.info
        if key is not None and self._cache is not None:
            self._cache.put(key, sampled)
        return sampled

    def _scan_once(self, path: Path) -> ScannedVideo:
        # Chunks of one video sample in parallel threads: the first scans, the rest wait.
        with self._scan_lock:
            if self._scanned is None:
                self._scanned = scan_video(path)
                self.scans += 1
            return self._scanned


def _probe(path: PathFn, sha256: str | None, cache: FrameCache | None) -> VideoInfo:
    if cache is not None and sha256 is not None:
        known = cache.get_info(sha256)
        if known is not None:
            return known
    info = probe_video(path())
    if cache is not None and sha256 is not None:
        cache.put_info(sha256, info)
    return info


async def open_blob_video(
    store: BlobStore,
    sha256: str,
    family: Family,
    settings: Settings,
    cache: FrameCache | None,
    *,
    on_decoded: Callable[[int], None] | None = None,
) -> CachedFrameSource:
    """Probe (or recall) a stored video, check the limits, and wrap it as a FrameSource."""

    def path() -> Path:
        return store.local_path(sha256)

    info = await asyncio.to_thread(_probe, path, sha256, cache)
    check_video_limits(info, settings)
    return CachedFrameSource(
        path,
        info,
        family,
        sha256=sha256,
        cache=cache,
        exact_resize=settings.exact_resize,
        on_decoded=on_decoded,
    )


async def open_path_video(
    path: Path,
    family: Family,
    settings: Settings,
    cache: FrameCache | None = None,
    *,
    sha256: str | None = None,
) -> CachedFrameSource:
    """A local file that is not in the blob store (the CLI); cached only when `sha256` is given."""
    info = await asyncio.to_thread(_probe, lambda: path, sha256, cache)
    check_video_limits(info, settings)
    return CachedFrameSource(
        lambda: path,
        info,
        family,
        sha256=sha256,
        cache=cache,
        exact_resize=settings.exact_resize,
    )
