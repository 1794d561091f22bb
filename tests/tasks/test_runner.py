"""The runner end to end in process, with the real TransformersEngine on the tiny random
models: every task returns schema-valid results inside the video's bounds. The answers are
noise; these tests check shapes, bounds and bookkeeping, never content."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image

from inkshadow.engine.transformers_engine import TransformersEngine
from inkshadow.families import Family
from inkshadow.settings import Settings
from inkshadow.tasks.runner import TINY_WARNING, analyze_images, analyze_video
from inkshadow.tasks.schemas import TaskLimits
from inkshadow.tasks.types import (
    AnalysisResult,
    AnalyzeOptions,
    Progress,
    TaskName,
    TaskSpec,
)
from tests.conftest import tiny_model
from tests.tasks.moving_box import HEIGHT, WIDTH, FileSource, make_moving_box

# Short answers: the tiny model writes noise until a bound stops it, at CPU speed.
LIMITS = TaskLimits(
    answer_chars=24,
    verse_chars=16,
    label_chars=8,
    description_chars=16,
    summary_chars=16,
    max_spans=2,
    max_boxes=2,
    max_track=3,
)
TASKS: tuple[TaskName, ...] = ("ask", "temporal", "spatial", "track", "describe")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_moving_box(tmp_path_factory.mktemp("runner") / "box.mp4")


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=list(Family)[1:])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[TransformersEngine]:
    settings = Settings(model=str(tiny_model(request.param)), batch_wait_ms=200)
    engine = TransformersEngine(settings)
    await engine.start()
    yield engine
    await engine.close()


def check_bounds(result: AnalysisResult, duration: float, width: int, height: int) -> None:
    for item in result.results:
        if "start" in item:
            assert 0 <= item["start"] <= item["end"] <= duration
            assert isinstance(item.get("label", item.get("description")), str)
        if "bbox" in item:
            x1, y1, x2, y2 = item["bbox"]
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
            assert isinstance(item["label"], str)
            assert item["time"] is None or 0 <= item["time"] <= duration


def settings_for(engine: TransformersEngine, **kw: float) -> Settings:
    return Settings(model=str(tiny_model(engine.info.family)), **kw)  # type: ignore[arg-type]


@pytest.mark.asyncio(loop_scope="session")
async def test_every_task_on_a_video(engine: TransformersEngine, video: Path) -> None:
    source = FileSource(video, engine.info.family)
    settings = settings_for(engine)
    specs = [TaskSpec(t, "白色方块", "poetic" if t == "ask" else "plain") for t in TASKS]
    # Concurrent: the engine batches them into one generate() call.
    results = await asyncio.gather(
        *(
            analyze_video(engine, source, s, AnalyzeOptions(), settings, limits=LIMITS)
            for s in specs
        )
    )
    info = source.info
    for spec, result in zip(specs, results, strict=True):
        AnalysisResult.model_validate(result.model_dump())
        assert result.task == spec.task
        assert result.warnings[0] == TINY_WARNING
        assert result.model == engine.info.model
        assert result.video is not None and result.video.width == WIDTH
        assert result.sampling is not None and result.sampling.frames == 8
        factor = engine.info.family.patch_factor
        tokens = 4 * (result.sampling.height // factor) * (result.sampling.width // factor)
        assert result.sampling.visual_tokens == tokens
        check_bounds(result, info.duration, WIDTH, HEIGHT)
        if spec.task == "track":
            assert all(r["time"] is not None for r in result.results)
    assert "verse" in results[0].extra


@pytest.mark.asyncio(loop_scope="session")
async def test_long_video_runs_in_chunks_with_progress(
    engine: TransformersEngine, video: Path
) -> None:
    source = FileSource(video, engine.info.family)
    settings = settings_for(engine, chunk_seconds=1.5, chunk_overlap_s=0.5, chunk_max_frames=4)
    seen: list[Progress] = []
    result = await analyze_video(
        engine,
        source,
        TaskSpec("temporal", "box"),
        AnalyzeOptions(start=0.2),
        settings,
        on_progress=seen.append,
        limits=LIMITS,
    )
    total = len(source.calls)
    assert total == 3  # the 0.8 s tail is folded into the last chunk
    assert seen == [Progress(i, total) for i in range(total + 1)]
    windows = sorted(source.calls)
    assert [x for w in windows for x in w] == pytest.approx([0.2, 1.7, 1.2, 2.7, 2.2, 4.0])
    assert len(result.extra["chunks"]) == total
    assert result.sampling is not None and result.sampling.frames <= 4 * total
    check_bounds(result, source.info.duration, WIDTH, HEIGHT)
    starts = [(r["start"], r["end"]) for r in result.results]
    assert starts == sorted(starts)
    assert all(r["start"] >= 0.2 for r in result.results)


@pytest.mark.asyncio(loop_scope="session")
async def test_images(engine: TransformersEngine) -> None:
    images = [Image.new("RGB", (300, 200), (30, 30, 30)), Image.new("RGB", (120, 160), "white")]
    settings = settings_for(engine)
    specs = [
        TaskSpec("spatial", "方块"),
        TaskSpec("ask", "what?", "poetic"),
        TaskSpec("describe", ""),
    ]
    results = await asyncio.gather(
        *(analyze_images(engine, images[:1], s, settings, limits=LIMITS) for s in specs[:2]),
        analyze_images(engine, images, specs[0], settings, limits=LIMITS),
        analyze_images(engine, images, specs[2], settings, limits=LIMITS),
    )
    check_bounds(results[0], 0.0, 300, 200)
    assert results[0].video is None and results[0].warnings[0] == TINY_WARNING
    for item in results[2].results:
        w, h = images[item["image"]].size
        x1, y1, x2, y2 = item["bbox"]
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    assert results[3].text == results[3].extra["summary"]
