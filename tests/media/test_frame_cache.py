"""The frame cache: a second question about the same video decodes nothing."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from inkshadow.families import Family
from inkshadow.media import frame_source
from inkshadow.media.blobs import LocalBlobStore
from inkshadow.media.decode import SampledVideo
from inkshadow.media.frame_cache import FrameCache, FrameKey, open_frame_cache
from inkshadow.media.frame_source import open_blob_video
from inkshadow.media.sampling import SamplingPlan, SamplingRequest
from inkshadow.media.video import VideoInfo
from inkshadow.settings import Settings
from tests.media.videos import make_video


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fc")
    return make_video(root / "v.mp4", frames=240, fps=24, width=320, height=240, gop=48)


def fake(n: int, side: int = 28) -> SampledVideo:
    info = VideoInfo(duration=1.0, fps=10.0, width=side, height=side, frames=10, codec="h264")
    plan = SamplingPlan(tuple(range(n)), tuple(i / 10 for i in range(n)), side, side, 10.0)
    frames = np.full((n, side, side, 3), n, dtype=np.uint8)
    return SampledVideo(info, plan, frames)


def key(sha: str, fps: float = 2.0, family: Family = Family.QWEN2_5_VL) -> FrameKey:
    return FrameKey(sha, SamplingRequest(family, fps=fps), exact_resize=True)


async def test_second_question_decodes_nothing(
    video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path)
    store = LocalBlobStore(tmp_path / "blobs")
    cache = open_frame_cache(settings)
    assert cache is not None
    ref = store.put_file(video)

    source = await open_blob_video(store, ref.sha256, Family.QWEN2_5_VL, settings, cache)
    started = time.perf_counter()
    first = await source.sample(fps=2.0, max_frames=64, start=None, end=None)
    first_s = time.perf_counter() - started
    assert source.decoded == len(first.plan.indices) == 20

    # A new request, a new source: neither probing nor decoding may run again.
    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("decoded or probed again")

    monkeypatch.setattr(frame_source, "sample_video", refuse)
    monkeypatch.setattr(frame_source, "probe_video", refuse)
    again = await open_blob_video(store, ref.sha256, Family.QWEN2_5_VL, settings, cache)
    started = time.perf_counter()
    second = await again.sample(fps=2.0, max_frames=64, start=None, end=None)
    second_s = time.perf_counter() - started
    assert again.decoded == 0
    assert second.plan == first.plan and second.info == first.info
    assert np.array_equal(second.frames, first.frames)
    assert cache.stats.hits == 1
    assert second_s < first_s, (first_s, second_s)

    # Other sampling, other family: other entries (these would decode: refused here).
    for other in (
        {"fps": 1.0, "max_frames": 64, "start": None, "end": None},
        {"fps": 2.0, "max_frames": 64, "start": 1.0, "end": None},
    ):
        with pytest.raises(AssertionError):
            await again.sample(**other)  # type: ignore[arg-type]
    qwen3 = await open_blob_video(store, ref.sha256, Family.QWEN3_VL, settings, cache)
    with pytest.raises(AssertionError):
        await qwen3.sample(fps=2.0, max_frames=64, start=None, end=None)


def test_keys_separate_what_changes_frames() -> None:
    base = key("a" * 64)
    assert base.digest() == key("a" * 64).digest()
    others = [
        key("b" * 64),
        key("a" * 64, fps=1.0),
        key("a" * 64, family=Family.QWEN3_VL),
        FrameKey("a" * 64, SamplingRequest(Family.QWEN2_5_VL), exact_resize=False),
        FrameKey("a" * 64, SamplingRequest(Family.QWEN2_5_VL, max_pixels=1000), True),
    ]
    assert len({base.digest(), *(k.digest() for k in others)}) == 1 + len(others)


def test_lru_by_bytes_and_restart(tmp_path: Path) -> None:
    entry = fake(4).frames.nbytes + 2048
    cache = FrameCache(tmp_path, max_bytes=3 * entry)
    for i in range(3):
        cache.put(key(f"{i}" * 64), fake(4))
    assert cache.get(key("0" * 64)) is not None  # 0 is now the most recent
    cache.put(key("3" * 64), fake(4))  # evicts the least recent: 1
    assert cache.stats.evictions == 1
    assert cache.get(key("1" * 64)) is None
    assert cache.total_bytes <= cache.max_bytes
    got = cache.get(key("0" * 64))
    assert got is not None and got.plan == fake(4).plan and int(got.frames[0, 0, 0, 0]) == 4
    # A restarted process finds the same entries and the same order.
    reborn = FrameCache(tmp_path, max_bytes=3 * entry)
    assert reborn.total_bytes == cache.total_bytes
    reborn.put(key("4" * 64), fake(4))
    assert reborn.get(key("2" * 64)) is None  # the oldest went
    assert reborn.get(key("0" * 64)) is not None


def test_oversized_and_broken_entries(tmp_path: Path) -> None:
    cache = FrameCache(tmp_path, max_bytes=1000)
    cache.put(key("a" * 64), fake(8))  # larger than the whole cache: not kept
    assert cache.get(key("a" * 64)) is None and cache.total_bytes == 0
    big = FrameCache(tmp_path / "big", max_bytes=10**8)
    big.put(key("b" * 64), fake(2))
    (tmp_path / "big" / f"{key('b' * 64).digest()}.npy").write_bytes(b"garbage")
    assert big.get(key("b" * 64)) is None  # a miss, never a crash


def test_zero_bytes_disables(tmp_path: Path) -> None:
    assert open_frame_cache(Settings(data_dir=tmp_path, frame_cache_bytes=0)) is None


async def test_chunks_of_one_video_scan_it_once(video: Path, tmp_path: Path) -> None:
    """The packet scan reads the whole file: chunks of a long video share one."""
    import asyncio

    settings = Settings(data_dir=tmp_path, frame_cache_bytes=0)
    store = LocalBlobStore(tmp_path / "blobs")
    ref = store.put_file(video)
    source = await open_blob_video(store, ref.sha256, Family.QWEN2_5_VL, settings, None)
    windows = [(0.0, 4.0), (3.0, 7.0), (6.0, 10.0)]
    got = await asyncio.gather(*(
        source.sample(fps=2.0, max_frames=8, start=a, end=b) for a, b in windows
    ))  # fmt: skip
    assert source.scans == 1
    assert [g.plan.timestamps[0] for g in got] == [0.0, 3.0, 6.0]
