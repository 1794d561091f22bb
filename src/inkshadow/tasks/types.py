"""The shapes of a video analysis: what is asked, how frames are obtained, what comes back.

These are the contract between the task runner (tasks/runner.py), the API routes, the CLI
and the jobs workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from inkshadow.media.decode import SampledVideo
from inkshadow.media.video import VideoInfo

TaskName = Literal["ask", "temporal", "spatial", "track", "describe"]
Style = Literal["plain", "poetic"]


@dataclass(frozen=True)
class TaskSpec:
    task: TaskName
    query: str
    style: Style = "plain"


@dataclass(frozen=True)
class AnalyzeOptions:
    """Sampling asked for by the client (None: server default); may lower limits only."""

    fps: float | None = None
    max_frames: int | None = None
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class ChunkPolicy:
    chunk_seconds: float
    overlap_s: float
    max_frames: int


@dataclass(frozen=True)
class Progress:
    done: int
    total: int


ProgressFn = Callable[[Progress], None]


class FrameSource(Protocol):
    """Frames of one video on demand (decoded or from the frame cache)."""

    @property
    def info(self) -> VideoInfo: ...

    async def sample(
        self, *, fps: float, max_frames: int, start: float | None, end: float | None
    ) -> SampledVideo: ...


class VideoSummary(BaseModel):
    duration: float
    fps: float
    width: int
    height: int


class SamplingSummary(BaseModel):
    frames: int
    fps: float
    width: int
    height: int
    visual_tokens: int


class AnalysisResult(BaseModel):
    """The body of /v1/video/analyze, a job's result and `inkshadow analyze`'s output.

    results depend on the task:
      temporal: {"start": s, "end": s, "label": str}
      spatial:  {"time": s | None, "bbox": [x1, y1, x2, y2], "label": str}   (original px)
      track:    {"time": s, "bbox": [x1, y1, x2, y2], "label": str}
      describe: {"start": s, "end": s, "description": str}  (+ "summary" in extra)
      ask:      [] (the answer is `text`; poetic style adds extra["verse"])
    """

    task: TaskName
    video: VideoSummary | None = None
    sampling: SamplingSummary | None = None
    results: list[dict[str, Any]] = Field(default_factory=list)
    text: str = ""
    model: str = ""
    warnings: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)
