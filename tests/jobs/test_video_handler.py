"""The video job handler's plan: one task for a short video, overlapping chunks for a long
one, and every task knows its seconds of video (the backlog metric)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inkshadow.engine.transformers_engine import TransformersEngine
from inkshadow.families import Family
from inkshadow.jobs.video_handler import VideoJobHandler
from inkshadow.media.blobs import open_blob_store
from inkshadow.media.fetch import MediaFetcher
from inkshadow.media.frame_cache import open_frame_cache
from inkshadow.media.library import MediaLibrary, file_id
from inkshadow.settings import Settings
from tests.conftest import tiny_model
from tests.media.videos import make_video


@pytest.fixture
async def handler(tmp_path: Path) -> AsyncIterator[tuple[VideoJobHandler, MediaLibrary]]:
    settings = Settings(
        model=str(tiny_model(Family.QWEN2_5_VL)),
        data_dir=tmp_path,
        chunk_seconds=4,
        chunk_overlap_s=1,
    )
    engine = TransformersEngine(settings)
    await engine.start()
    fetcher = MediaFetcher(settings)
    library = MediaLibrary(settings, open_blob_store(settings), fetcher, open_frame_cache(settings))
    try:
        yield VideoJobHandler(settings, engine, library), library
    finally:
        await fetcher.aclose()
        await engine.close()


async def test_plan_sizes_and_seconds(
    handler: tuple[VideoJobHandler, MediaLibrary], tmp_path: Path
) -> None:
    jobs, library = handler
    short = library.store.put_file(make_video(tmp_path / "s.mp4", frames=72, fps=24))
    long = library.store.put_file(make_video(tmp_path / "l.mp4", frames=240, fps=24))
    body = {"task": "temporal", "query": "q"}
    [one] = await jobs.plan({**body, "video": file_id(short.sha256)})
    assert one.get("start") is None and one.get("end") is None  # sampled as asked
    assert jobs.seconds(one) == pytest.approx(3.0)
    chunks = await jobs.plan({**body, "file_id": file_id(long.sha256)})
    assert [(c["start"], c["end"]) for c in chunks] == [(0.0, 4.0), (3.0, 7.0), (6.0, 10.0)]
    assert [jobs.seconds(c) for c in chunks] == [4.0, 4.0, 4.0]
    clipped = await jobs.plan({**body, "video": file_id(long.sha256), "start": 2, "end": 5})
    assert [jobs.seconds(c) for c in clipped] == [3.0]
