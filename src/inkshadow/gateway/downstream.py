"""Client-side HTTP/1.1 connections, parsed with httptools on a bare asyncio Protocol (the
lean hot path: no ASGI layers). Requests on one connection are answered in order. Bodies up
to `stream_above` bytes are buffered, because media affinity and safe retries need them
whole; larger ones (uploads) are handed over at their headers and stream through."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import cast

import httptools

from inkshadow.errors import InkshadowError, InvalidRequest, PayloadTooLarge
from inkshadow.gateway.bodystream import BodyStream
from inkshadow.gateway.connection import UpstreamConnection
from inkshadow.gateway.responses import error_response

log = logging.getLogger("inkshadow.gateway")


class HeaderTooLarge(InkshadowError):
    status = 431
    type = "invalid_request_error"
    code = "headers_too_large"


class Request:
    __slots__ = ("body", "headers", "keep_alive", "method", "received", "stream", "target")

    def __init__(
        self,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        keep_alive: bool,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.received = time.perf_counter()
        self.stream: BodyStream | None = None  # set for large bodies, then `body` is empty

    @property
    def path(self) -> bytes:
        return self.target.split(b"?", 1)[0]

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


Handler = Callable[["ClientConnection", Request], Awaitable[None]]


class ClientConnection(asyncio.Protocol):
    def __init__(
        self,
        handler: Handler,
        connections: set[ClientConnection],
        max_header_bytes: int,
        max_body_bytes: int,
        stream_above: int = 1024 * 1024,
    ) -> None:
        self._handler = handler
        self._connections = connections
        self._max_header = max_header_bytes
        self._max_body = max_body_bytes
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = b"unknown"
        self.closed = False
        self.busy = False
        self.last_active = time.monotonic()
        self.streaming_from: UpstreamConnection | None = None  # for flow control
        self._queue: deque[Request] = deque()
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_size = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._stream: BodyStream | None = None
        self._write_paused = False
        self._stream_above = stream_above

    # --- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they implement it.
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername")
        self.peer = str(peer[0]).encode("ascii") if isinstance(peer, tuple) else b"unknown"
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._connections.discard(self)
        if self._stream is not None:
            self._stream.cut()
        upstream = self.streaming_from
        if upstream is not None:
            upstream.abort()  # the client is gone: stop the upstream generating for nobody

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.fail(InvalidRequest("protocol upgrades are not supported by the gateway"))
        except httptools.HttpParserError as exc:
            # A callback's own error (a cap) arrives as the parser error's context.
            cause = exc.__context__
            if isinstance(cause, InkshadowError):
                self.fail(cause)
            else:
                self.fail(InvalidRequest("malformed HTTP request"))

    def pause_writing(self) -> None:
        self._write_paused = True
        if self.streaming_from is not None:
            self.streaming_from.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self.streaming_from is not None:
            self.streaming_from.resume_reading()

    # --- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._header_size = 0
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._header_size += len(url)
        if self._header_size > self._max_header:
            raise HeaderTooLarge("request line and headers are too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_size += len(name) + len(value) + 4
        if self._header_size > self._max_header:
            raise HeaderTooLarge("request line and headers are too large")
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        length = 0
        for name, value in self._headers:
            if name == b"content-length" and value.isdigit():
                length = int(value)
                if length > self._max_body:
                    raise PayloadTooLarge("request body is too large")
            if name == b"expect" and value.lower() == b"100-continue" and self.transport:
                # We take the body anyway (buffered or streamed): let the client send it now.
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if length > self._stream_above and self.transport is not None:
            # Too large to hold: hand the request over now and stream its body through.
            t = self.transport
            self._stream = BodyStream(length, t.pause_reading, t.resume_reading)
            self._dispatch(b"")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._max_body:
            raise PayloadTooLarge("request body is too large")
        if self._stream is not None:
            self._stream.feed(body)
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._stream is not None:
            self._stream.finish()
            self._stream = None
            return
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body = []
        self._dispatch(body)

    def _dispatch(self, body: bytes) -> None:
        method = self._parser.get_method()
        request = Request(method, self._url, self._headers, body, self._parser.should_keep_alive())
        request.stream = self._stream
        self._queue.append(request)
        if not self.busy:
            self.busy = True
            asyncio.get_running_loop().create_task(self._serve())

    # --- answering --------------------------------------------------------------------------
    async def _serve(self) -> None:
        try:
            while self._queue and not self.closed:
                request = self._queue.popleft()
                try:
                    await self._handler(self, request)
                except Exception:  # a gateway bug: answer (if still possible) and say so
                    log.exception("unexpected error while answering a request")
                    self.fail(InkshadowError("internal gateway error"))
                    return
                self.last_active = time.monotonic()
                unread = request.stream is not None and not request.stream.complete
                if not request.keep_alive or unread:
                    self.close()  # an unread body leaves the connection unframed
        finally:
            self.busy = False

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def fail(self, exc: InkshadowError) -> None:
        """Answer a request we could not even parse, then close: framing is lost."""
        self.write(error_response(exc, close=True))
        self.close()
