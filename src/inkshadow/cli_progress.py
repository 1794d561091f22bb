"""The progress line of long CLI work on stderr (stdout stays clean JSON): chunks of a
long video done out of total, in process or as a server job."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from inkshadow.tasks.types import Progress as ChunksDone


class ChunkProgress:
    """Callable as a runner's `on_progress`; draws a bar once there is more than one chunk
    (a short video finishes before a bar would help)."""

    def __init__(self, label: str) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._label = label
        self._task = self._bar.add_task(label, total=None, visible=False)

    def __enter__(self) -> ChunkProgress:
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def note(self, what: str) -> None:
        self._bar.update(self._task, description=f"{self._label}: {what}")

    def __call__(self, progress: ChunksDone) -> None:
        self._bar.update(
            self._task,
            total=progress.total,
            completed=progress.done,
            visible=progress.total > 1,
        )
