"""Job workers inside the API process, sharing its engine and media library: the
one-machine setup (`inkshadow up`) holds one copy of the model, not one per role."""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import CollectorRegistry

from inkshadow.engine.types import Engine
from inkshadow.jobs.metrics import WorkerMetrics
from inkshadow.jobs.runtime import JobsRuntime
from inkshadow.jobs.types import HandlerRegistry
from inkshadow.jobs.video_handler import VideoJobHandler
from inkshadow.jobs.worker import Worker
from inkshadow.media.library import MediaLibrary
from inkshadow.settings import Settings


class EmbeddedWorkers:
    def __init__(
        self,
        settings: Settings,
        jobs: JobsRuntime,
        engine: Engine,
        library: MediaLibrary,
        concurrency: int,
        registry: CollectorRegistry | None = None,
    ) -> None:
        """`registry`: the API's, so /metrics shows the workers' histograms too."""
        handlers = HandlerRegistry({"video": VideoJobHandler(settings, engine, library)})
        self._worker = Worker(
            jobs.store,
            handlers,
            lease_s=settings.job_lease_s,
            concurrency=concurrency,
            grace_s=settings.drain_grace_s,
            metrics=WorkerMetrics(registry),
            webhooks=jobs.webhooks,
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._worker.run(self._stop))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
