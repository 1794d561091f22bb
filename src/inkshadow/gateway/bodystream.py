"""A request body streamed from the client to the upstream as it arrives, for bodies too
large to buffer (uploads). Bounded: past `_HIGH` buffered bytes the client socket stops
being read until the upstream has taken them."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

_HIGH = 1024 * 1024
_LOW = 256 * 1024


class BodyCut(Exception):
    """The client went away before sending its whole body."""


class BodyStream:
    def __init__(self, length: int, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        self.length = length
        self.sent_any = False  # once bytes went upstream, the request cannot be replayed
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._finished = False
        self._cut = False
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._pause = pause
        self._resume = resume

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH and not self._paused:
            self._paused = True
            self._pause()
        self._wake()

    def finish(self) -> None:
        self._finished = True
        self._wake()

    def cut(self) -> None:
        if not self._finished:
            self._cut = True
            self._wake()

    @property
    def complete(self) -> bool:
        return self._finished

    async def read(self) -> bytes | None:
        """The next chunk, or None at the end of the body. Raises BodyCut."""
        while not self._chunks:
            if self._finished:
                return None
            if self._cut:
                raise BodyCut
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._paused and self._buffered < _LOW:
            self._paused = False
            self._resume()
        return chunk
