"""How idle workers learn of new tasks: LISTEN/NOTIFY on PostgreSQL (pickup in
milliseconds, no busy polling), a short adaptive poll on SQLite. Both also fall back to a
periodic poll, which finds delayed retries and recovers from a lost listener."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from inkshadow.jobs.types import NOTIFY_CHANNEL
from inkshadow.store.engine import CONNECT_TIMEOUT_S, Store

log = logging.getLogger(__name__)


class Waker:
    def __init__(self, store: Store, *, poll_s: float = 1.0, idle_min_s: float = 0.02) -> None:
        self._store = store
        self._poll_s = poll_s
        self._idle_min_s = idle_min_s
        self._event = asyncio.Event()
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._store.is_postgres:
            self._task = asyncio.create_task(self._listen())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def kick(self) -> None:
        """Wake every waiter (a new event object for the next round)."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, idle_rounds: int) -> None:
        """Sleep until a notification or the poll interval. Without a listener the interval
        grows from idle_min_s with each empty round, so a busy SQLite queue stays quick."""
        if self._listening:
            timeout = self._poll_s
        else:
            timeout = min(self._poll_s, self._idle_min_s * (2 ** min(idle_rounds, 10)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)

    async def _listen(self) -> None:
        import psycopg  # lazily: only PostgreSQL deployments need it

        url = self._store.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
                ) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._listening = True
                    self.kick()  # work may have arrived while we were not listening
                    async for _ in conn.notifies():
                        self.kick()
            except (psycopg.Error, OSError) as exc:
                log.warning("job notifications lost (%s); polling until reconnected",
                            type(exc).__name__)  # fmt: skip
            self._listening = False
            await asyncio.sleep(1.0)
