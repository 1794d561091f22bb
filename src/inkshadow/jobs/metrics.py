"""Queue metrics for autoscaling and dashboards.

Gauges read from the database (queue length, backlog seconds, jobs by state, active
leases) are the same numbers whichever process exports them: the API and every worker
serve them, so aggregate them with max(), not sum(). They come from a snapshot refreshed in
the background, so a scrape never waits on the database. Latency histograms and outcome
counters are per worker process (sum them)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from inkshadow.errors import InkshadowError
from inkshadow.jobs.types import JobEnd, Lease
from inkshadow.store.engine import Store
from inkshadow.store.models import Job, Task

log = logging.getLogger(__name__)

_WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
_JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400)


@dataclass(frozen=True)
class QueueStats:
    jobs_queued: int = 0
    jobs_running: int = 0
    jobs_waiting: int = 0  # jobs with a task waiting for a worker (queued or mid-run)
    tasks_waiting: int = 0
    backlog_seconds: float = 0.0
    active_leases: int = 0


def read_stats(store: Store, now: float | None = None) -> QueueStats:
    """A few indexed counts (partial indexes on live tasks; jobs by status)."""
    now = time.time() if now is None else now
    with store.transaction() as session:
        by_state = dict(
            session.execute(
                select(Job.status, func.count())
                .where(Job.status.in_(("queued", "running")))
                .group_by(Job.status)
            ).all()
        )
        waiting = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Task.seconds), 0.0),
                func.count(func.distinct(Task.job_id)),
            ).where(Task.status == "queued")
        ).one()
        leases = session.scalar(
            select(func.count()).where(Task.status == "running", Task.lease_expires > now)
        )
    return QueueStats(
        jobs_queued=int(by_state.get("queued", 0)),
        jobs_running=int(by_state.get("running", 0)),
        jobs_waiting=int(waiting[2]),
        tasks_waiting=int(waiting[0]),
        backlog_seconds=float(waiting[1]),
        active_leases=int(leases or 0),
    )


class QueueStatsCollector(Collector):
    """Exports the latest snapshot; `run()` keeps it fresh."""

    def __init__(self, store: Store, *, interval_s: float = 2.0) -> None:
        self._store = store
        self._interval_s = interval_s
        self.stats = QueueStats()
        self.up = False

    def refresh(self) -> None:
        database = self._store.url.database
        if self._store.dialect == "sqlite" and database and not Path(database).exists():
            return  # nothing submitted yet; reading would create the file
        try:
            self.stats, self.up = read_stats(self._store), True
        except InkshadowError as exc:  # database down or not migrated: keep the last values
            if self.up:
                log.warning("queue metrics not refreshed: %s", exc.message)
            self.up = False

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.refresh)
            await asyncio.sleep(self._interval_s)

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        # Jobs with work no worker has taken: queued jobs, and running ones whose chunks
        # wait. A long job fanned out into chunks still asks for workers.
        yield GaugeMetricFamily(
            "video_processing_queue_length",
            "Jobs with work waiting for a worker (not started, or chunks not yet taken).",
            value=s.jobs_waiting,
        )
        yield GaugeMetricFamily(
            "inkshadow_video_backlog_seconds",
            "Seconds of video in tasks waiting for a worker (known durations only).",
            value=s.backlog_seconds,
        )
        jobs = GaugeMetricFamily("inkshadow_jobs", "Unfinished jobs by state.", labels=["state"])
        jobs.add_metric(["queued"], s.jobs_queued)
        jobs.add_metric(["running"], s.jobs_running)
        yield jobs
        yield GaugeMetricFamily(
            "inkshadow_job_tasks_waiting", "Tasks (plan, chunk, merge) waiting.",
            value=s.tasks_waiting,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "inkshadow_job_active_leases", "Tasks leased by live workers.", value=s.active_leases
        )
        yield GaugeMetricFamily(
            "inkshadow_job_store_up", "1 when the last metrics read of the job database worked.",
            value=1.0 if self.up else 0.0,
        )  # fmt: skip


class WorkerMetrics:
    """Per-process counters and histograms of one worker, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.pickup = Histogram(
            "inkshadow_job_pickup_seconds",
            "From a job's submission to a worker starting it (enqueue-to-start latency).",
            buckets=_WAIT_BUCKETS,
            registry=r,
        )
        self.job_latency = Histogram(
            "inkshadow_job_duration_seconds",
            "From a job's submission to its end, by outcome.",
            ["status"],
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self.task_seconds = Histogram(
            "inkshadow_job_task_seconds",
            "Run time of one task, by kind and outcome.",
            ["kind", "outcome"],
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self.tasks = Counter(
            "inkshadow_job_tasks", "Tasks run, by kind and outcome.", ["kind", "outcome"],
            registry=r,
        )  # fmt: skip
        self.leases_held = Gauge(
            "inkshadow_worker_leases_held", "Tasks this worker holds now.", registry=r
        )

    def claimed(self, lease: Lease) -> None:
        self.leases_held.inc()
        if lease.kind == "plan" and lease.attempts == 1:
            self.pickup.observe(max(0.0, lease.claimed_at - lease.job_created_at))

    def task_done(self, lease: Lease, outcome: str, seconds: float) -> None:
        self.leases_held.dec()
        self.tasks.labels(lease.kind, outcome).inc()
        self.task_seconds.labels(lease.kind, outcome).observe(seconds)

    def job_ended(self, end: JobEnd) -> None:
        self.job_latency.labels(end.status).observe(max(0.0, end.finished_at - end.created_at))
