"""Sampled frames kept on disk, so a second question about the same video decodes nothing.

Key: (blob sha256, every field of the sampling request including the family, exact_resize,
a format version). Entry: `<key>.npy` (the uint8 frames, uncompressed: loading is a read,
not a decode) and `<key>.json` (plan and probe facts), written in that order by rename, so
a JSON file means a complete entry. Least recently used entries go first once the total
passes `frame_cache_bytes`; use order is kept in file mtimes, so it survives restarts.
Probe facts per blob are kept too (`info/<sha256>.json`), so a hit does not even open the
video (for an S3 blob: no download).

Several processes may share the folder: each keeps its own size index, and a file another
process evicted reads as a miss.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inkshadow.media.decode import SampledVideo
from inkshadow.media.sampling import SamplingPlan, SamplingRequest
from inkshadow.media.video import VideoInfo
from inkshadow.settings import Settings

log = logging.getLogger(__name__)

# Bump when decoding or resizing changes what a key produces.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FrameKey:
    sha256: str
    request: SamplingRequest
    exact_resize: bool

    def digest(self) -> str:
        fields = {
            k: (v.value if k == "family" else v)
            for k, v in dataclasses.asdict(self.request).items()
        }
        text = json.dumps([FORMAT_VERSION, self.sha256, self.exact_resize, fields], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class FrameCache:
    """LRU-by-bytes disk cache of `SampledVideo`s. Thread-safe; calls block (use a thread)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._sizes: OrderedDict[str, int] = OrderedDict()
        for sub in ("tmp", "info"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._scan()

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def _scan(self) -> None:
        entries: list[tuple[float, str, int]] = []
        for meta in self.root.glob("*.json"):
            digest = meta.stem
            try:
                size = (self.root / f"{digest}.npy").stat().st_size + meta.stat().st_size
                entries.append((meta.stat().st_mtime, digest, size))
            except FileNotFoundError:
                meta.unlink(missing_ok=True)  # half an entry: drop it
        for _, digest, size in sorted(entries):
            self._sizes[digest] = size
        self._evict()

    def get(self, key: FrameKey) -> SampledVideo | None:
        digest = key.digest()
        meta_path = self.root / f"{digest}.json"
        try:
            meta = json.loads(meta_path.read_bytes())
            frames = np.load(self.root / f"{digest}.npy", allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError):
            with self._lock:
                self.stats.misses += 1
                self._sizes.pop(digest, None)
            return None
        with self._lock:
            self.stats.hits += 1
            if digest in self._sizes:
                self._sizes.move_to_end(digest)
        with contextlib.suppress(FileNotFoundError):
            os.utime(meta_path)  # recently used, for the next process's scan
        return SampledVideo(
            info=VideoInfo(**meta["info"]),
            plan=_plan(meta["plan"]),
            frames=frames.astype(np.uint8, copy=False),
        )

    def put(self, key: FrameKey, sampled: SampledVideo) -> None:
        digest = key.digest()
        meta = json.dumps(
            {"info": dataclasses.asdict(sampled.info), "plan": dataclasses.asdict(sampled.plan)}
        ).encode()
        size = sampled.frames.nbytes + len(meta) + 128  # .npy header
        if size > self.max_bytes:
            return  # bigger than the whole cache: not worth keeping
        try:
            self._write(f"{digest}.npy", lambda f: np.save(f, sampled.frames, allow_pickle=False))
            self._write(f"{digest}.json", lambda f: f.write(meta))
        except OSError:
            # A full or read-only disk costs a re-decode later, never the request.
            log.warning("could not write to the frame cache", exc_info=True)
            return
        with self._lock:
            self._sizes[digest] = size
            self._sizes.move_to_end(digest)
            self._evict()
        self.put_info(key.sha256, sampled.info)

    def _write(self, name: str, write: Any) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root / "tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            os.replace(tmp, self.root / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _evict(self) -> None:
        """Drop least recently used entries until under the cap; the lock is held."""
        total = sum(self._sizes.values())
        while total > self.max_bytes and self._sizes:
            digest, size = self._sizes.popitem(last=False)
            (self.root / f"{digest}.json").unlink(missing_ok=True)
            (self.root / f"{digest}.npy").unlink(missing_ok=True)
            total -= size
            self.stats.evictions += 1

    def get_info(self, sha256: str) -> VideoInfo | None:
        try:
            return VideoInfo(**json.loads((self.root / "info" / f"{sha256}.json").read_bytes()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def put_info(self, sha256: str, info: VideoInfo) -> None:
        data = json.dumps(dataclasses.asdict(info)).encode()
        try:
            self._write(f"info/{sha256}.json", lambda f: f.write(data))
        except OSError:
            log.warning("could not write to the frame cache", exc_info=True)


def _plan(data: dict[str, Any]) -> SamplingPlan:
    return SamplingPlan(
        indices=tuple(int(i) for i in data["indices"]),
        timestamps=tuple(float(t) for t in data["timestamps"]),
        width=int(data["width"]),
        height=int(data["height"]),
        sample_fps=float(data["sample_fps"]),
    )


def open_frame_cache(settings: Settings) -> FrameCache | None:
    """The cache under data_dir/frames, or None when frame_cache_bytes is 0."""
    if settings.frame_cache_bytes <= 0:
        return None
    return FrameCache(settings.data_dir / "frames", settings.frame_cache_bytes)
