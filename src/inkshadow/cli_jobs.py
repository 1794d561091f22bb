"""`inkshadow worker` and `inkshadow db upgrade|current`, as typer command functions that
cli.py registers (`app.command("worker")(worker_command)`, a `db` sub-app for the others)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from inkshadow.cli_common import (
    ConfigOpt,
    EngineOpt,
    LogLevelOpt,
    ModelOpt,
    UpstreamOpt,
    fail,
    require_model,
    settings_or_exit,
)
from inkshadow.errors import InkshadowError
from inkshadow.settings import Settings

if TYPE_CHECKING:
    from inkshadow.jobs.types import HandlerRegistry
    from inkshadow.store.engine import Store
    from inkshadow.store.migrate import SchemaState

log = logging.getLogger(__name__)
Closer = Callable[[], Awaitable[None]]
HandlerFactory = Callable[[Settings], Awaitable[tuple["HandlerRegistry", Closer]]]


def worker_command(
    model: ModelOpt = None,
    engine: EngineOpt = None,
    upstream: UpstreamOpt = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Tasks this process runs at once [1].")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port (0: off).")
    ] = None,
    migrate: Annotated[bool, typer.Option(help="Upgrade the database schema first.")] = False,
    log_level: LogLevelOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run jobs from the database queue until SIGTERM (the task in hand finishes, or its
    lease is handed back after the drain grace)."""
    from inkshadow.jobs.video_handler import build_video_handlers
    from inkshadow.logs import configure_logging

    settings = settings_or_exit(
        config,
        model=model,
        engine=engine,
        upstream_url=upstream,
        worker_concurrency=concurrency,
        log_level=log_level,
    )
    require_model(settings)
    configure_logging(settings.log_level)
    try:
        asyncio.run(run_worker(settings, metrics_port or 0, migrate, build_video_handlers))
    except InkshadowError as exc:
        raise fail(exc.message) from None


async def run_worker(
    settings: Settings, metrics_port: int, migrate: bool, build: HandlerFactory
) -> None:
    """A worker process: schema check, metrics port, handlers, the loop until SIGTERM."""
    from prometheus_client import start_http_server

    from inkshadow.jobs.metrics import QueueStatsCollector, WorkerMetrics
    from inkshadow.jobs.webhook import WebhookSender
    from inkshadow.jobs.worker import Worker
    from inkshadow.store import open_store
    from inkshadow.store.migrate import SchemaState

    store = open_store(settings, pool_size=settings.worker_concurrency + 2, pre_ping=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    state = await _schema_when_reachable(store, migrate, stop)
    if state is None:  # stopped while waiting for the database
        store.dispose()
        return
    if state is SchemaState.BEHIND:
        raise fail("the database is not migrated: run `inkshadow db upgrade` or pass --migrate")
    metrics = WorkerMetrics()
    stats = QueueStatsCollector(store)
    metrics.registry.register(stats)
    if metrics_port:
        start_http_server(metrics_port, addr=settings.host, registry=metrics.registry)
    handlers, close = await build(settings)
    worker = Worker(
        store,
        handlers,
        lease_s=settings.job_lease_s,
        concurrency=settings.worker_concurrency,
        grace_s=settings.drain_grace_s,
        metrics=metrics,
        webhooks=WebhookSender(settings),
    )
    refresher = asyncio.create_task(stats.run())
    try:
        await worker.run(stop)
    finally:
        refresher.cancel()
        await close()
        store.dispose()


async def _schema_when_reachable(
    store: Store, migrate: bool, stop: asyncio.Event
) -> SchemaState | None:
    """The schema state once the database answers. A worker that starts while the database
    restarts waits for it (backoff up to 5 s) instead of crash-looping; None if stopped."""
    from inkshadow.store.errors import DatabaseUnavailable
    from inkshadow.store.migrate import check_schema

    delay = 0.2
    while not stop.is_set():
        try:
            return await asyncio.to_thread(check_schema, store, migrate=migrate)
        except DatabaseUnavailable as exc:
            log.warning("waiting for the database", extra={"reason": exc.message})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 5.0)
    return None


def db_upgrade_command(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    config: ConfigOpt = None,
) -> None:
    """Create or upgrade the database schema (SQLite file or INKSHADOW_DATABASE_URL)."""
    from inkshadow.store import open_store
    from inkshadow.store.migrate import upgrade

    store = open_store(settings_or_exit(config))
    try:
        now = upgrade(store, revision)
    except InkshadowError as exc:
        raise fail(exc.message) from None
    finally:
        store.dispose()
    typer.echo(f"database schema at {now}")


def db_current_command(config: ConfigOpt = None) -> None:
    """Print the database's schema revision and this code's head."""
    from inkshadow.store import open_store
    from inkshadow.store.migrate import current_revision, head_revision

    store = open_store(settings_or_exit(config))
    try:
        current = current_revision(store)
    except InkshadowError as exc:
        raise fail(exc.message) from None
    finally:
        store.dispose()
    typer.echo(f"current: {current or '(empty)'}\nhead: {head_revision()}")
