"""Media by reference: a URL (http(s), data:, file://) is fetched into the blob store, a
`file-<sha256>` id is looked up in it; videos open as frame-cached FrameSources."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from inkshadow.errors import NotFound
from inkshadow.families import Family
from inkshadow.media.blobs import BlobRef, BlobStore
from inkshadow.media.fetch import MediaFetcher
from inkshadow.media.frame_cache import FrameCache
from inkshadow.media.frame_source import CachedFrameSource, open_blob_video
from inkshadow.settings import Settings

_FILE_ID = re.compile(r"^file-([0-9a-f]{64})$")


def file_id(sha256: str) -> str:
    return f"file-{sha256}"


def parse_file_id(value: str) -> str | None:
    """The sha256 inside a `file-<sha256>` id, or None when `value` is not one."""
    match = _FILE_ID.match(value.strip())
    return match.group(1) if match else None


class MediaLibrary:
    def __init__(
        self,
        settings: Settings,
        store: BlobStore,
        fetcher: MediaFetcher,
        cache: FrameCache | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.cache = cache

    async def ingest(
        self, ref: str, *, max_bytes: int | None = None, param: str = "url"
    ) -> BlobRef:
        """The blob a file id names, or the blob a URL's bytes became."""
        sha256 = parse_file_id(ref)
        if sha256 is not None:
            found = await asyncio.to_thread(self.store.stat, sha256)
            if found is None:
                raise NotFound(f"no file with id {ref}", param=param, code="file_not_found")
            return found
        if ref.startswith("file-"):
            raise NotFound(f"no file with id {ref[:80]}", param=param, code="file_not_found")
        # Fetched straight into the store's staging folder: committing is a rename.
        fetched = await self.fetcher.fetch(ref, self.store.staging_dir(), max_bytes=max_bytes)
        try:
            return await asyncio.to_thread(self.store.put_file, fetched.path, move=True)
        finally:
            fetched.path.unlink(missing_ok=True)

    async def local_path(self, ref: str, *, max_bytes: int | None = None) -> Path:
        blob = await self.ingest(ref, max_bytes=max_bytes)
        return await asyncio.to_thread(self.store.local_path, blob.sha256)

    async def open_video(self, blob: BlobRef, family: Family) -> CachedFrameSource:
        return await open_blob_video(self.store, blob.sha256, family, self.settings, self.cache)
