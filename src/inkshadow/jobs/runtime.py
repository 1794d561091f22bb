"""What a server process holds for jobs: the queue, the queue-metrics collector, the
webhook sender, and the start-up schema check (`--migrate` upgrades; a schema newer than
this code stops the start)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import CollectorRegistry

from inkshadow.jobs.metrics import QueueStatsCollector
from inkshadow.jobs.queue import JobQueue
from inkshadow.jobs.webhook import WebhookSender
from inkshadow.settings import Settings
from inkshadow.store.engine import Store, open_store
from inkshadow.store.errors import DatabaseUnavailable
from inkshadow.store.migrate import SchemaState, SchemaTooNew, check_schema

log = logging.getLogger(__name__)


class JobsRuntime:
    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        *,
        migrate: bool = False,
        stats_interval_s: float = 2.0,
    ) -> None:
        self.store = store or open_store(settings, pool_size=max(5, settings.worker_concurrency))
        self.queue = JobQueue(self.store, max_attempts=settings.job_max_attempts)
        self.stats = QueueStatsCollector(self.store, interval_s=stats_interval_s)
        self.webhooks = WebhookSender(settings)
        self._migrate = migrate
        self._refresher: asyncio.Task[None] | None = None
        self._checker: asyncio.Task[None] | None = None
        # Set when the database, checked late, holds a schema newer than this code: job
        # routes answer 503 with it rather than write to a schema they do not know.
        self.refusal: str | None = None

    def install(self, registry: CollectorRegistry) -> None:
        registry.register(self.stats)

    def check(self) -> SchemaState | None:
        """Raises SchemaTooNew; a database that is down only delays the check (its routes
        answer 503 meanwhile) so the rest of the API still serves."""
        try:
            state = check_schema(self.store, migrate=self._migrate)
        except DatabaseUnavailable as exc:
            log.warning("job database not checked at start: %s", exc.message)
            return None
        if state is SchemaState.BEHIND:
            log.warning("the job database is not migrated: run `inkshadow db upgrade` "
                        "or start with --migrate; job routes answer 503 until then")  # fmt: skip
        return state

    async def start(self) -> None:
        if await asyncio.to_thread(self.check) is None:
            self._checker = asyncio.create_task(self._check_when_reachable())
        self._refresher = asyncio.create_task(self.stats.run())

    async def _check_when_reachable(self, first_delay_s: float = 0.5) -> None:
        """The start-up check, once a database that was down at start answers."""
        delay = first_delay_s
        while True:
            await asyncio.sleep(delay)
            try:
                state = await asyncio.to_thread(check_schema, self.store, migrate=self._migrate)
            except DatabaseUnavailable:
                delay = min(delay * 2, 30.0)
                continue
            except SchemaTooNew as exc:
                self.refusal = exc.message
                log.error("job routes disabled: %s", exc.message)
                return
            log.info("job database checked", extra={"schema": state.value})
            return

    async def stop(self) -> None:
        for task in (self._checker, self._refresher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await asyncio.to_thread(self.store.dispose)
