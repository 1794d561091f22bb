"""A kept-alive HTTP/1.1 connection to an upstream, parsed with httptools.

The proxy sends one request, awaits `head` (status and headers), then attaches a sink that
receives body chunks as they arrive (SSE passes through chunk by chunk) and awaits `done`.
Chunks that arrive before the sink is attached are buffered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import httptools


class UpstreamFailure(Exception):
    """The upstream failed. `kind`: connect | reset | timeout | cut. `reused`: the request
    went over a kept-alive connection that may simply have gone stale."""

    def __init__(self, kind: str, *, reused: bool) -> None:
        super().__init__(kind)
        self.kind = kind
        self.reused = reused


Head = tuple[int, list[tuple[bytes, bytes]], bool]  # status, headers, chunked-or-unsized


class UpstreamConnection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.usable = False
        self.uses = 0
        self.head: asyncio.Future[Head] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        self.received_any = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._sink: Callable[[bytes], None] | None = None
        self._pending: list[bytes] = []
        self._no_body = False
        self._until_close = False
        self._drained: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they implement it.
        self.transport = cast(asyncio.Transport, transport)
        self.usable = True

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("reset")

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        if self._until_close and exc is None and self.head.done():
            self._complete(keep=False)  # an HTTP/1.0-style body ends when the socket does
        else:
            self._fail("reset")

    def pause_writing(self) -> None:
        self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    # --- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # 1xx interim answers: wait for the real one
            return
        self._cancel_timer()  # the deadline covers the head only; streams may run long
        sized = chunked = False
        for name, value in self._headers:
            if name == b"content-length":
                sized = True
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        self._until_close = not sized and not chunked and not self._no_body
        if not self.head.done():
            self.head.set_result((status, self._headers, not sized and not self._no_body))
        if self._no_body or status in (204, 304):
            self._complete(keep=False)

    def on_body(self, body: bytes) -> None:
        if self._sink is not None:
            self._sink(body)
        else:
            self._pending.append(body)

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() < 200:
            return
        self._complete(keep=self._parser.should_keep_alive())

    # --- used by the proxy ------------------------------------------------------------------
    def send(self, data: bytes, *, head_timeout: float, no_body: bool) -> None:
        """Write one request. Resets per-request state; `head`/`done` are fresh futures."""
        assert self.transport is not None
        self.uses += 1
        if self.head.done():
            self.head = self._loop.create_future()
            self.done = self._loop.create_future()
        self.received_any = False
        self._sink = None
        self._pending = []
        self._no_body = no_body
        self._until_close = False
        self._timer = self._loop.call_later(head_timeout, self._fail, "timeout")
        self.transport.write(data)

    async def write(self, data: bytes) -> None:
        """Write streamed body bytes, waiting while the socket's buffer is full."""
        if not self.usable or self.transport is None:
            raise UpstreamFailure("reset", reused=False)
        self.transport.write(data)
        if self._drained is not None:
            await self._drained

    def attach(self, sink: Callable[[bytes], None]) -> None:
        pending, self._pending = self._pending, []
        for chunk in pending:
            sink(chunk)
        self._sink = sink

    def take_pending(self) -> bytes:
        """Body bytes buffered so far (used when the whole answer is already here)."""
        pending, self._pending = self._pending, []
        return b"".join(pending)

    def pause_reading(self) -> None:
        if self.transport is not None and self.usable:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and self.usable:
            self.transport.resume_reading()

    def close(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.abort()

    def discard(self) -> None:
        """Drop the answer being received (a retried 502/503) and the connection with it."""
        self._cancel_timer()
        self._sink = None
        self._pending = []
        if not self.done.done():
            self.done.set_result(None)
        self.abort()

    # --- internals --------------------------------------------------------------------------
    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _complete(self, *, keep: bool) -> None:
        self._cancel_timer()
        if not keep:
            self.close()
        if not self.done.done():
            self.done.set_result(None)

    def _fail(self, kind: str) -> None:
        self._cancel_timer()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)  # a writer waiting for room: let it see the end
        if self.head.done() and self.done.done():
            return
        reused = self.uses > 1 and not self.received_any
        if kind == "timeout":
            self.abort()
        self.usable = False
        error = UpstreamFailure("cut" if self.head.done() else kind, reused=reused)
        if not self.head.done():
            self.head.set_exception(error)
            self.done.set_result(None)
        elif not self.done.done():
            self.done.set_exception(error)
