"""Bounded admission: at most `max_concurrent` requests proxied at once, at most
`queue_size` waiting (FIFO, each for at most `timeout` seconds). Past that a fast 429 with
Retry-After — never a 5xx, which would make load balancers eject a healthy pod."""

from __future__ import annotations

import asyncio
from collections import deque

from inkshadow.errors import RateLimited


class Admission:
    def __init__(self, max_concurrent: int, queue_size: int, timeout: float) -> None:
        self.max_concurrent = max_concurrent
        self.queue_size = queue_size
        self.timeout = timeout
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def try_acquire(self) -> bool:
        """The fast path: no coroutine, no allocation."""
        if self.active < self.max_concurrent and not self._waiters:
            self.active += 1
            return True
        return False

    def retry_after(self) -> float:
        # Roughly how long the queue takes to turn over; at least a second.
        return max(1.0, min(self.timeout, 30.0))

    async def acquire(self) -> None:
        if self.try_acquire():
            return
        if len(self._waiters) >= self.queue_size:
            raise RateLimited(
                "the gateway is at capacity; retry later",
                retry_after=self.retry_after(),
                code="overloaded",
            )
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, self.timeout)
        except TimeoutError:
            raise RateLimited(
                "the gateway is at capacity; retry later",
                retry_after=self.retry_after(),
                code="overloaded",
            ) from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        # release() handed its slot to us: `active` already counts this request.

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # hand the slot over directly
                return
        self.active -= 1
