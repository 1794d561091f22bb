"""The gateway's request handling: its own endpoints, auth, drain refusal, per-key limits,
admission, then the proxy. Built from explicit settings; owns no globals."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import time

from prometheus_client import CONTENT_TYPE_LATEST

from inkshadow.auth import KeyVerifier
from inkshadow.errors import AuthenticationError, RateLimited, ServiceUnavailable
from inkshadow.gateway.admission import Admission
from inkshadow.gateway.affinity import media_key, session_key
from inkshadow.gateway.balancer import Balancer
from inkshadow.gateway.downstream import ClientConnection, Request
from inkshadow.gateway.limits import KeyLimiter, MemoryLimiter, RedisLimiter
from inkshadow.gateway.logs import AccessLog
from inkshadow.gateway.metrics import GatewayMetrics
from inkshadow.gateway.proxy import Outcome, Proxy
from inkshadow.gateway.responses import error_response, simple_response
from inkshadow.gateway.upstream import Upstream
from inkshadow.settings import Settings

_OWN = frozenset((b"/health", b"/healthz", b"/ready", b"/metrics"))
_SAFE_RID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_OK = b'{"status":"ok"}'
_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class Gateway:
    def __init__(self, settings: Settings) -> None:
        s = settings
        self.settings = s
        self.metrics = GatewayMetrics()
        self.verifier = KeyVerifier.from_settings(s)
        self.limiter: KeyLimiter | None = None
        if s.gateway_key_rpm or s.gateway_key_concurrency:
            if s.redis_url:
                lease = s.gateway_upstream_timeout_s
                self.limiter = RedisLimiter(
                    s.redis_url, s.gateway_key_rpm, s.gateway_key_concurrency, lease
                )
            else:
                self.limiter = MemoryLimiter(s.gateway_key_rpm, s.gateway_key_concurrency)
        self.admission = Admission(
            s.gateway_max_concurrent, s.gateway_queue_size, s.gateway_queue_timeout_s
        )
        self._upstreams: dict[str, Upstream] = {}
        self.balancer = Balancer(
            s.gateway_policy, s.gateway_hash_load_bound, [], [], s.gateway_canary_percent
        )
        self.sync_upstreams(list(s.gateway_upstreams), list(s.gateway_canary_upstreams))
        self.proxy = Proxy(s, self.balancer, self.metrics)
        self.connections: set[ClientConnection] = set()
        self.access_log = AccessLog(enabled=s.gateway_access_log)
        self.draining = False
        self.active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._rid_prefix = os.urandom(4).hex().encode("ascii")
        self._rid_counter = itertools.count(1)
        self._session_header = s.gateway_session_header.lower().encode("ascii")
        self._session_cookie = s.gateway_session_cookie.encode("ascii")
        self.metrics.gauges = self._gauges
        self.metrics.upstream_gauges = self._upstream_gauges
        self._keyed = s.gateway_policy in ("session", "media") or s.gateway_canary_percent > 0

    def _gauges(self) -> dict[str, float]:
        return {
            "in_flight": self.active,
            "queue_depth": self.admission.waiting,
            "draining": 1 if self.draining else 0,
        }

    def _upstream_gauges(self) -> list[tuple[str, int, bool]]:
        now = time.monotonic()
        return [(u.name, u.in_flight, u.available(now)) for u in self.upstreams()]

    # --- upstream set -----------------------------------------------------------------------
    def upstreams(self) -> list[Upstream]:
        return self.balancer.all_upstreams()

    def _upstream(self, url: str, canary: bool) -> Upstream:
        up = self._upstreams.get(url)
        if up is None:
            up = Upstream(url, self.metrics.for_upstream, canary=canary)
            self._upstreams[url] = up
        return up

    def sync_upstreams(self, primary: list[str], canary: list[str]) -> None:
        """Replace the upstream sets, keeping the state of replicas that stay."""
        keep = {*primary, *canary}
        for url, up in list(self._upstreams.items()):
            if url not in keep:
                up.removed = True  # in-flight requests finish; nothing new goes there
                up.close_idle()
                del self._upstreams[url]
        self.balancer.set_upstreams(
            [self._upstream(u, False) for u in dict.fromkeys(primary)],
            [self._upstream(u, True) for u in dict.fromkeys(canary)],
        )

    def apply_dns(self, urls: list[str]) -> None:
        s = self.settings
        self.sync_upstreams([*s.gateway_upstreams, *urls], list(s.gateway_canary_upstreams))

    # --- connections ------------------------------------------------------------------------
    def protocol(self) -> ClientConnection:
        s = self.settings
        return ClientConnection(
            self.handle, self.connections, s.gateway_max_header_bytes, s.max_body_bytes
        )

    def begin_drain(self) -> None:
        self.draining = True
        for conn in list(self.connections):
            if not conn.busy:
                conn.close()

    async def wait_idle(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def ready(self) -> bool:
        now = time.monotonic()
        return not self.draining and any(u.available(now) for u in self.upstreams())

    # --- one request ------------------------------------------------------------------------
    def _request_id(self, req: Request) -> bytes:
        given = req.header(b"x-request-id")
        if given is not None and _SAFE_RID.match(given):
            return given
        return b"%s-%d" % (self._rid_prefix, next(self._rid_counter))

    def _own(self, conn: ClientConnection, req: Request, path: bytes) -> None:
        close = not req.keep_alive or self.draining
        req.keep_alive = not close
        if path == b"/metrics":
            body = self.metrics.render()
            ctype = CONTENT_TYPE_LATEST.encode("ascii")
            conn.write(simple_response(200, body, content_type=ctype, close=close))
        elif path == b"/ready":
            ok = self.ready()
            state = b"ready" if ok else (b"draining" if self.draining else b"no_upstream")
            conn.write(simple_response(200 if ok else 503, b'{"status":"%s"}' % state, close=close))
        else:
            conn.write(simple_response(200, _OK, close=close))

    async def handle(self, conn: ClientConnection, req: Request) -> None:
        path = req.path
        if path in _OWN and req.method in (b"GET", b"HEAD"):
            self._own(conn, req, path)
            return
        rid = self._request_id(req)
        started = req.received
        key_id: str | None = None
        try:
            if self.verifier.enabled:
                key_id = self.verifier.verify_authorization(req.header(b"authorization"))
            if self.draining:
                self.metrics.count(self.metrics.rejected, "draining")
                raise ServiceUnavailable("the gateway is shutting down; retry", retry_after=1.0)
            outcome = await self._limited(conn, req, rid, key_id)
        except (AuthenticationError, RateLimited, ServiceUnavailable) as exc:
            if isinstance(exc, RateLimited):
                self.metrics.count(self.metrics.rejected, exc.code or "rate_limited")
            close = not req.keep_alive or self.draining
            conn.write(error_response(exc, request_id=rid, close=close))
            if close:
                req.keep_alive = False
            outcome = Outcome(exc.status)
        self.metrics.count(self.metrics.requests, _CLASSES.get(outcome.status // 100, "other"))
        if self.draining:
            conn.close()  # answered; the client reconnects to a replica that stays
        if self.access_log.enabled:
            self.access_log.write(
                rid.decode("ascii", "replace"),
                req.method.decode("ascii", "replace"),
                path.decode("utf-8", "replace")[:256],  # never the query string
                outcome.status,
                outcome.upstream,
                outcome.attempts,
                key_id,
                (time.perf_counter() - started) * 1000,
            )

    async def _limited(
        self, conn: ClientConnection, req: Request, rid: bytes, key_id: str | None
    ) -> Outcome:
        limiter = self.limiter
        bucket = key_id or "ip-" + conn.peer.decode("ascii", "replace")
        lease = await limiter.acquire(bucket) if limiter is not None else ""
        try:
            admission = self.admission
            if not admission.try_acquire():
                await admission.acquire()
            self.active += 1
            self._idle.clear()
            try:
                return await self.proxy.forward(conn, req, rid, self._key(req))
            finally:
                admission.release()
                self.active -= 1
                if self.active == 0:
                    self._idle.set()
        finally:
            if limiter is not None:
                await limiter.release(bucket, lease)

    def _key(self, req: Request) -> bytes | None:
        if not self._keyed:
            return None
        if self.settings.gateway_policy == "media":
            key = media_key(req.body)
            if key is not None:
                return key
        return session_key(req.headers, req.body, self._session_header, self._session_cookie)

    async def close(self) -> None:
        self.access_log.flush()
        for up in self.upstreams():
            up.close_idle()
        for conn in list(self.connections):
            conn.close()
        if self.limiter is not None:
            await self.limiter.close()


def describe(gateway: Gateway) -> dict[str, object]:
    """Fields for the start-up log line."""
    ups = [u.name for u in gateway.upstreams()]
    return {"upstreams": ups, "policy": gateway.settings.gateway_policy}
