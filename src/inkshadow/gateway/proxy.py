"""Forwarding one request: pick a replica, send, retry before the first byte, relay the
answer. A small sized answer (a JSON reply up to 1 MiB) is taken whole before the client
gets a byte, so a replica dying mid-body is retried like one refusing the connection;
larger answers and streams go chunk by chunk. After the first byte there is no retry: a cut
SSE stream gets an error event and a proper end, anything else a closed connection — never
a silent truncation dressed up as a complete answer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from inkshadow.errors import ServiceUnavailable, UpstreamError
from inkshadow.gateway.balancer import Balancer
from inkshadow.gateway.bodystream import BodyCut, BodyStream
from inkshadow.gateway.connection import Head, UpstreamConnection, UpstreamFailure
from inkshadow.gateway.downstream import ClientConnection, Request
from inkshadow.gateway.metrics import GatewayMetrics
from inkshadow.gateway.responses import error_response, reason, sse_error_event
from inkshadow.gateway.upstream import Upstream
from inkshadow.settings import Settings

_REQUEST_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding",
     b"upgrade", b"expect", b"content-length", b"host", b"x-request-id")
)  # fmt: skip
_RESPONSE_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding",
     b"upgrade", b"x-request-id")
)  # fmt: skip
_RETRY_STATUS = (502, 503)
BUFFER_WHOLE_BYTES = 1024 * 1024


@dataclass
class Outcome:
    status: int
    upstream: str = ""
    attempts: int = 0


def _small_sized_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """A sized answer that is not a stream and fits in memory: the gateway takes it whole
    before answering, so an upstream dying mid-body is retried instead of cutting the client."""
    length = next((v for n, v in headers if n == b"content-length"), None)
    if length is None or not length.strip().isdigit():
        return False
    sse = any(n == b"content-type" and v.startswith(b"text/event-stream") for n, v in headers)
    return not sse and int(length) <= BUFFER_WHOLE_BYTES


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Proxy:
    def __init__(self, settings: Settings, balancer: Balancer, metrics: GatewayMetrics) -> None:
        self.settings = settings
        self.balancer = balancer
        self.metrics = metrics

    def _upstream_head(self, req: Request, up: Upstream, rid: bytes, peer: bytes) -> bytes:
        parts = [req.method, b" ", up.prefix, req.target, b" HTTP/1.1\r\nhost: ", up.host_header]
        forwarded_for = peer
        for name, value in req.headers:
            if name in _REQUEST_HOP:
                continue
            if name == b"x-forwarded-for":
                forwarded_for = value + b", " + peer
                continue
            parts += (b"\r\n", name, b": ", value)
        length = req.stream.length if req.stream is not None else len(req.body)
        parts.append(b"\r\nx-forwarded-for: %s\r\nx-request-id: %s\r\ncontent-length: %d\r\n\r\n"
                     % (forwarded_for, rid, length))  # fmt: skip
        parts.append(req.body)
        return b"".join(parts)

    async def forward(
        self, conn: ClientConnection, req: Request, rid: bytes, key: bytes | None
    ) -> Outcome:
        s = self.settings
        exclude: list[Upstream] = []
        attempts = s.gateway_retries + 1
        tries = 0
        any_upstream = False
        while tries < attempts:
            up, decision = self.balancer.pick(key, exclude)
            if up is None:
                break
            any_upstream = True
            self.metrics.count(self.metrics.decisions, (self.balancer.policy, decision))
            tries += 1
            last = tries >= attempts
            outcome = await self._attempt(conn, req, up, rid, last_try=last)
            if outcome is not None:
                outcome.attempts = tries
                return outcome
            exclude.append(up)
            up.stats.retries += 1
        if not any_upstream:
            exc: ServiceUnavailable | UpstreamError = ServiceUnavailable(
                "no upstream replica is available", retry_after=1.0
            )
        else:
            exc = UpstreamError("no upstream replica could answer the request")
        conn.write(error_response(exc, request_id=rid, close=not req.keep_alive))
        return Outcome(exc.status, attempts=tries)

    def _failed(self, up: Upstream, kind: str) -> None:
        up.stats.errors[kind] += 1
        s = self.settings
        up.failed(s.gateway_eject_after, s.gateway_eject_base_s, s.gateway_eject_max_s)

    async def _send_streamed(
        self, up: Upstream, data: bytes, stream: BodyStream
    ) -> tuple[UpstreamConnection, Head]:
        """Head now, body as it arrives. A fresh connection: no stale-connection replay is
        possible once body bytes are gone."""
        s = self.settings
        uc = await up.connect(s.gateway_connect_timeout_s)
        uc.send(data, head_timeout=s.gateway_upstream_timeout_s, no_body=False)
        try:
            while not uc.head.done() and (chunk := await stream.read()) is not None:
                stream.sent_any = True
                await uc.write(chunk)
        except BodyCut:
            uc.discard()
            raise
        except UpstreamFailure:
            if uc.head.done():
                uc.head.exception()  # the same failure: mark it seen
            raise
        return uc, await uc.head

    async def _send(
        self, up: Upstream, data: bytes, no_body: bool
    ) -> tuple[UpstreamConnection, Head]:
        s = self.settings
        uc = up.take_idle()
        if uc is not None:
            uc.send(data, head_timeout=s.gateway_upstream_timeout_s, no_body=no_body)
            try:
                return uc, await uc.head
            except UpstreamFailure as failure:
                if not failure.reused or failure.kind != "reset":
                    raise
                # A kept-alive connection the upstream had already closed: not the
                # replica's fault. One fresh connection, same replica.
        uc = await up.connect(s.gateway_connect_timeout_s)
        uc.send(data, head_timeout=s.gateway_upstream_timeout_s, no_body=no_body)
        return uc, await uc.head

    async def _attempt(
        self, conn: ClientConnection, req: Request, up: Upstream, rid: bytes, *, last_try: bool
    ) -> Outcome | None:
        """One try on one replica. None: not answered, try another."""
        data = self._upstream_head(req, up, rid, conn.peer)
        up.begin()
        try:
            sent = time.perf_counter()
            try:
                if req.stream is not None:
                    uc, head = await self._send_streamed(up, data, req.stream)
                else:
                    uc, head = await self._send(up, data, req.method == b"HEAD")
                status, headers, chunked = head
            except UpstreamFailure as failure:
                self._failed(up, failure.kind)
                if req.stream is not None and req.stream.sent_any:
                    return self._unreplayable(conn, req, rid)
                return None
            except BodyCut:
                return Outcome(499, up.name)
            replayable = req.stream is None or not req.stream.sent_any
            if status in _RETRY_STATUS and not last_try and not conn.closed and replayable:
                uc.discard()
                if status == 503:
                    up.ready = False  # draining or overloaded: rest until its check passes
                else:
                    self._failed(up, "status")
                return None
            if _small_sized_body(headers) and not await self._whole_body(uc):
                # Cut before the client saw a byte: as retryable as a refused connection.
                self._failed(up, "cut")
                if not last_try and not conn.closed and replayable:
                    return None
                exc = UpstreamError("the upstream stopped before its answer ended")
                conn.write(error_response(exc, request_id=rid, close=not req.keep_alive))
                return Outcome(exc.status, up.name)
            # The replica's time: to its head, or to its whole body when that was awaited.
            upstream_time = time.perf_counter() - sent
            up.stats.latency.observe(upstream_time)
            up.succeeded(self.settings.gateway_eject_max_s)
            return await self._relay(
                conn, req, up, uc, status, headers, chunked, rid, upstream_time
            )
        finally:
            up.end()

    async def _whole_body(self, uc: UpstreamConnection) -> bool:
        """Wait for the rest of a small answer; False when the upstream fails or stalls."""
        try:
            await asyncio.wait_for(
                asyncio.shield(uc.done), self.settings.gateway_upstream_timeout_s
            )
        except (UpstreamFailure, TimeoutError):
            # On a stall, the abort fails `done` later: retrieve that, nobody awaits it.
            uc.done.add_done_callback(lambda f: f.cancelled() or f.exception())
            uc.abort()
            return False
        return True

    async def _relay(
        self,
        conn: ClientConnection,
        req: Request,
        up: Upstream,
        uc: UpstreamConnection,
        status: int,
        headers: list[tuple[bytes, bytes]],
        chunked: bool,
        rid: bytes,
        upstream_time: float,
    ) -> Outcome:
        sse = False
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason(status))]
        for name, value in headers:
            if name not in _RESPONSE_HOP:
                lines += (name, b": ", value, b"\r\n")
                if name == b"content-type" and value.startswith(b"text/event-stream"):
                    sse = True
        has_body = req.method != b"HEAD" and status not in (204, 304)
        chunked = chunked and has_body
        if chunked:
            lines.append(b"transfer-encoding: chunked\r\n")
        lines.append(b"x-request-id: %s\r\n" % rid)
        if not req.keep_alive:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        outcome = Outcome(status, up.name)
        if uc.done.done() and uc.done.exception() is None:
            # The whole answer is here already (the common small JSON reply): one write.
            body = uc.take_pending()
            if chunked:
                body = (_chunk(body) if body else b"") + b"0\r\n\r\n"
            conn.write(b"".join(lines) + body)
            self._observe_added(req, upstream_time)
            up.release(uc)
            return outcome
        conn.write(b"".join(lines))
        self._observe_added(req, upstream_time)
        conn.streaming_from = uc
        if conn.closed:
            uc.abort()
        uc.attach(lambda data: conn.write(_chunk(data)) if chunked else conn.write(data))
        try:
            await uc.done
        except UpstreamFailure:
            if conn.closed:
                outcome.status = 499  # the client left; the upstream was not at fault
                return outcome
            self._failed(up, "cut")
            outcome.status = 502
            if chunked and sse:
                conn.write(_chunk(sse_error_event("the upstream stopped before the answer ended")))
                conn.write(b"0\r\n\r\n")
            else:
                conn.close()  # framing makes the cut visible to the client
            return outcome
        finally:
            conn.streaming_from = None
        if chunked:
            conn.write(b"0\r\n\r\n")
        up.release(uc)
        return outcome

    def _unreplayable(self, conn: ClientConnection, req: Request, rid: bytes) -> Outcome:
        """The upstream failed after part of a streamed body went to it: that body is gone,
        so no retry; the client must send it again."""
        exc = UpstreamError("the upstream failed while receiving the request body; retry")
        req.keep_alive = False
        conn.write(error_response(exc, request_id=rid, close=True))
        return Outcome(exc.status, attempts=1)

    def _observe_added(self, req: Request, upstream_time: float) -> None:
        if req.stream is not None:
            return  # its clock started before the upload: not the gateway's time
        added = time.perf_counter() - req.received - upstream_time
        self.metrics.added_latency.observe(max(0.0, added))
