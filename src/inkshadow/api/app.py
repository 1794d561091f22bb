"""The app factory: everything the API needs is passed in; nothing is global."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from inkshadow import __version__
from inkshadow.api import (
    routes_files,
    routes_health,
    routes_jobs,
    routes_openai,
    routes_sessions,
    routes_video,
)
from inkshadow.api.errors import install_error_handlers
from inkshadow.api.media import MediaResolver
from inkshadow.api.metrics import ApiMetrics
from inkshadow.api.middleware import RequestMiddleware
from inkshadow.api.state import TINY_WARNING, AppState
from inkshadow.auth import KeyVerifier
from inkshadow.cache.results import ResultCache
from inkshadow.cache.sessions import SessionStore
from inkshadow.cache.store import open_store
from inkshadow.engine.types import Engine
from inkshadow.jobs.runtime import JobsRuntime

if TYPE_CHECKING:
    from inkshadow.jobs.embedded import EmbeddedWorkers
from inkshadow.media.blobs import open_blob_store
from inkshadow.media.fetch import MediaFetcher
from inkshadow.media.frame_cache import open_frame_cache
from inkshadow.media.library import MediaLibrary
from inkshadow.settings import Settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    jobs: JobsRuntime | None = None,
    migrate: bool = False,
    embedded_workers: int = 0,
) -> FastAPI:
    """`jobs`: the job store and queue (default: from settings); `migrate`: upgrade the job
    database schema at start (a schema newer than this code always stops the start);
    `embedded_workers`: job slots run in this process on its engine (`inkshadow up`)."""
    metrics = ApiMetrics()
    jobs = jobs or JobsRuntime(settings, migrate=migrate)
    jobs.install(metrics.registry)
    fetcher = MediaFetcher(settings)
    # Fetched and uploaded media land in the blob store; sampled frames in the frame cache.
    library = MediaLibrary(settings, open_blob_store(settings), fetcher, open_frame_cache(settings))
    # Redis when configured (shared by replicas), else an in-memory LRU of this process.
    cache_store = open_store(settings.redis_url, settings.cache_max_entries)
    state = AppState(
        settings=settings,
        engine=engine,
        media=MediaResolver(settings, library, metrics),
        metrics=metrics,
        keys=KeyVerifier.from_settings(settings),
        library=library,
        sessions=SessionStore(cache_store, settings.session_ttl_s),
        results=ResultCache(
            cache_store, settings.cache_ttl_s, lambda r: metrics.cache.labels(r).inc()
        ),
        jobs=jobs,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Load in the background so /health answers (alive, not ready) during a slow load.
        workers = None
        if embedded_workers:
            from inkshadow.jobs.embedded import EmbeddedWorkers

            workers = EmbeddedWorkers(
                settings, jobs, engine, library, embedded_workers, metrics.registry
            )
        loading = asyncio.create_task(_load(state, workers))
        await jobs.start()
        try:
            yield
        finally:
            if workers is not None:
                await workers.stop()
            loading.cancel()
            await jobs.stop()
            await fetcher.aclose()
            await cache_store.aclose()
            await engine.close()

    app = FastAPI(
        title="inkshadow",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ink = state
    install_error_handlers(app, lambda t, c: metrics.errors.labels(t, c or "").inc())
    app.include_router(routes_health.router)
    app.include_router(routes_openai.router)
    app.include_router(routes_files.router)
    app.include_router(routes_video.router)
    app.include_router(routes_jobs.router)
    app.include_router(routes_sessions.router)
    app.add_middleware(RequestMiddleware, state=state)
    return app


async def _load(state: AppState, workers: EmbeddedWorkers | None = None) -> None:
    try:
        await state.engine.start()
    except Exception as exc:
        # /health turns 503 so an orchestrator restarts us; the reason is in the log.
        log.exception("the engine failed to start")
        state.load_error = getattr(exc, "message", None) or type(exc).__name__
        return
    state.loaded = True
    if workers is not None:
        workers.start()  # only once the engine can serve their jobs
    info = state.engine.info
    log.info("ready", extra={"model": info.model, "engine": info.engine})
    if info.tiny:
        log.warning("serving a %s; answers mean nothing", TINY_WARNING)
