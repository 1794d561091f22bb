"""The worker loop: `concurrency` slots claim tasks, run them through the job's handler and
commit the outcome; a heartbeat renews the leases held; a reaper requeues tasks of dead
workers. On stop (SIGTERM) slots stop claiming, running tasks get `grace_s` to finish, and
whatever is still running then is cancelled and its lease released (the attempt does not
count), so another worker picks it up at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

from inkshadow.errors import InkshadowError
from inkshadow.jobs.leases import Leases
from inkshadow.jobs.metrics import WorkerMetrics
from inkshadow.jobs.types import HandlerRegistry, JobEnd, JobHandler, Json, Lease, Payload
from inkshadow.jobs.waker import Waker
from inkshadow.jobs.webhook import WebhookSender
from inkshadow.store.engine import Store
from inkshadow.store.errors import DatabaseUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Permanent(Exception):
    """A failure that retrying cannot fix."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def backoff_fn(base_s: float, cap_s: float, rng: random.Random) -> Callable[[int], float]:
    """Exponential backoff with jitter in [half, full] of the step, so retries of many
    tasks that failed together spread out instead of stampeding back at once."""

    def delay(attempt: int) -> float:
        step = min(cap_s, base_s * 2.0 ** max(0, attempt - 1))
        return step * (0.5 + 0.5 * rng.random())

    return delay


class Worker:
    def __init__(
        self,
        store: Store,
        handlers: HandlerRegistry,
        *,
        lease_s: float = 60.0,
        concurrency: int = 1,
        grace_s: float = 30.0,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 300.0,
        poll_s: float = 1.0,
        name: str | None = None,
        metrics: WorkerMetrics | None = None,
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._leases = Leases(store)
        self._handlers = handlers
        self._lease_s = lease_s
        self._concurrency = concurrency
        self._grace_s = grace_s
        self._backoff = backoff_fn(backoff_base_s, backoff_cap_s, random.Random())
        self._waker = Waker(store, poll_s=poll_s)
        self._metrics = metrics
        self._webhooks = webhooks
        self._stopping = asyncio.Event()
        self._running: dict[str, asyncio.Task[Any]] = {}  # lease token -> handler work
        self._lost: set[str] = set()
        self._side: set[asyncio.Task[Any]] = set()  # webhook deliveries in flight

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then drain (see the module doc)."""
        self._loop = asyncio.get_running_loop()
        await self._waker.start()
        slots = [asyncio.create_task(self._slot()) for _ in range(self._concurrency)]
        background = [
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._reaper()),
        ]
        log.info("worker %s started with %d slot(s)", self.name, self._concurrency)
        try:
            await stop.wait()
        finally:
            self._stopping.set()
            self._waker.kick()
            _, pending = await asyncio.wait(slots, timeout=self._grace_s)
            for work in self._running.values():  # past the grace: give the leases back
                work.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if self._side:
                await asyncio.wait(self._side, timeout=5.0)
            await self._waker.close()
            log.info("worker %s stopped", self.name)

    async def _slot(self) -> None:
        idle = 0
        while not self._stopping.is_set():
            try:
                lease = await asyncio.to_thread(self._leases.claim, self.name, self._lease_s)
            except DatabaseUnavailable as exc:
                log.warning("cannot claim: %s", exc.message)
                await self._pause(1.0)
                continue
            if lease is None:
                await self._waker.wait(idle)
                idle += 1
                continue
            idle = 0
            await self._execute(lease)

    async def _execute(self, lease: Lease) -> None:
        if self._metrics is not None:
            self._metrics.claimed(lease)
        started = time.perf_counter()
        work = asyncio.create_task(self._work(lease))
        self._running[lease.token] = work
        outcome = "error"
        try:
            commit = await work
            outcome = "ok" if await self._retrying(lease, commit) else "lost"
        except asyncio.CancelledError:
            if lease.token in self._lost:
                outcome = "lost"
            else:
                outcome = "released"
                await self._retrying(lease, lambda: self._leases.release(lease))
        except _Permanent as exc:
            await self._fail(lease, exc.message, exc.code, retry=False)
        except InkshadowError as exc:
            await self._fail(lease, exc.message, exc.code or "error", retry=exc.status >= 500)
        except Exception as exc:
            log.exception("task %s of job %s failed", lease.kind, lease.job_id)
            await self._fail(lease, f"internal error ({type(exc).__name__})", "internal_error",
                             retry=True)  # fmt: skip
        finally:
            self._running.pop(lease.token, None)
            self._lost.discard(lease.token)
            if self._metrics is not None:
                self._metrics.task_done(lease, outcome, time.perf_counter() - started)

    async def _work(self, lease: Lease) -> Callable[[], Any]:
        """Run the handler; return the commit to make (run in a thread by the caller)."""
        handler = self._handlers.get(lease.job_kind)
        if handler is None:
            raise _Permanent(f"no worker handles jobs of kind {lease.job_kind!r}", "bad_kind")
        leases = self._leases
        if lease.kind == "chunk":
            result = await handler.run_chunk(lease.payload)
            return lambda: leases.finish_chunk(lease, result)
        if lease.kind == "merge":
            payload, results = await asyncio.to_thread(leases.job_input, lease)
            merged = await handler.merge(payload, results)
            return lambda: self._ended(leases.finish_merge(lease, merged))
        chunks = await handler.plan(lease.payload)
        if len(chunks) > 1:
            planned = [(c, handler.seconds(c)) for c in chunks]
            return lambda: leases.finish_plan(lease, planned)
        inline = await self._inline(handler, chunks)
        merged = await handler.merge(lease.payload, [inline[2]] if inline else [])
        return lambda: self._ended(leases.finish_inline(lease, inline, merged))

    @staticmethod
    async def _inline(
        handler: JobHandler, chunks: list[Payload]
    ) -> tuple[Payload, float, Json] | None:
        if not chunks:
            return None
        return chunks[0], handler.seconds(chunks[0]), await handler.run_chunk(chunks[0])

    def _ended(self, end: JobEnd | None) -> bool:
        if end is not None:
            self._on_end(end)
        return True  # a cancelled job's result is dropped, which is still a clean commit

    async def _fail(self, lease: Lease, message: str, code: str, *, retry: bool) -> None:
        delay = self._backoff(lease.attempts) if retry else None
        outcome = await self._retrying(
            lease, lambda: self._leases.fail(lease, message, code=code, retry_in=delay)
        )
        if outcome is not None and outcome[1] is not None:
            self._on_end(outcome[1])

    def _on_end(self, end: JobEnd) -> None:
        """Called in the commit thread; hands the follow-ups to the event loop."""
        self._loop.call_soon_threadsafe(self._followups, end)

    def _followups(self, end: JobEnd) -> None:
        if self._metrics is not None:
            self._metrics.job_ended(end)
        if self._webhooks is not None and end.webhook_url:
            task = asyncio.create_task(self._webhooks.send(end))
            self._side.add(task)
            task.add_done_callback(self._side.discard)

    async def _retrying(self, lease: Lease, commit: Callable[[], T]) -> T | None:
        """Commit, riding out a database outage while the lease can still be valid; past
        its expiry another worker owns the task and our write would be refused anyway."""
        deadline = time.time() + self._lease_s
        delay = 0.2
        while True:
            try:
                return await asyncio.to_thread(commit)
            except DatabaseUnavailable as exc:
                if time.time() + delay > deadline or lease.token in self._lost:
                    log.warning("gave up committing task %d: %s", lease.task_id, exc.message)
                    return None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            tokens = list(self._running)
            try:
                held = await asyncio.to_thread(self._leases.renew, tokens, self._lease_s)
            except DatabaseUnavailable:
                continue
            for token in tokens:
                work = self._running.get(token)
                if token not in held and work is not None and not work.done():
                    # Expired and taken over, or the job was cancelled: stop wasting work.
                    self._lost.add(token)
                    work.cancel()

    async def _reaper(self) -> None:
        every = min(self._lease_s / 2, 5.0)
        while True:
            await asyncio.sleep(every * (0.75 + 0.5 * random.random()))
            try:
                _, ended = await asyncio.to_thread(self._leases.reap, self._backoff)
            except DatabaseUnavailable:
                continue
            for end in ended:
                self._followups(end)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
