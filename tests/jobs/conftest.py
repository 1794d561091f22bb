"""Stores for the contract suite: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from inkshadow.jobs.queue import JobQueue
from inkshadow.jobs.types import TERMINAL, HandlerRegistry, JobView
from inkshadow.jobs.worker import Worker
from inkshadow.store import Store, open_store
from inkshadow.store.migrate import upgrade
from tests.services import Postgres, own_postgres, postgres, redis_url

__all__ = ["own_postgres", "postgres", "redis_url"]


def make_store(kind: str, tmp_path: Path, server: Postgres) -> tuple[Store, Callable[[], None]]:
    if kind == "sqlite":
        store = open_store(url=f"sqlite:///{tmp_path / 'jobs.db'}")
        upgrade(store)
        return store, store.dispose
    name = server.create_database()
    store = open_store(url=server.url(name))
    upgrade(store)

    def cleanup() -> None:
        store.dispose()
        server.drop_database(name)

    return store, cleanup


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, postgres: Postgres) -> Iterator[Store]:
    made, cleanup = make_store(request.param, tmp_path, postgres)
    yield made
    cleanup()


@pytest.fixture
def queue(store: Store) -> JobQueue:
    return JobQueue(store, max_attempts=3)


@asynccontextmanager
async def running(
    store: Store, handlers: HandlerRegistry, **options: float
) -> AsyncIterator[Worker]:
    """A worker in this event loop for the duration of the block."""
    settings = {"lease_s": 2.0, "backoff_base_s": 0.05, "backoff_cap_s": 0.2, "poll_s": 0.2,
                "grace_s": 5.0, **options}  # fmt: skip
    worker = Worker(
        store,
        handlers,
        lease_s=settings["lease_s"],
        concurrency=int(settings.get("concurrency", 2)),
        grace_s=settings["grace_s"],
        backoff_base_s=settings["backoff_base_s"],
        backoff_cap_s=settings["backoff_cap_s"],
        poll_s=settings["poll_s"],
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def wait_done(queue: JobQueue, job_id: str, owner: str, limit_s: float = 20) -> JobView:
    deadline = time.monotonic() + limit_s
    while True:
        view = await asyncio.to_thread(queue.get, job_id, owner)
        if view.status in TERMINAL:
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {view.status} after {limit_s} s")
        await asyncio.sleep(0.02)
