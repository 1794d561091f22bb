"""One ASGI middleware for what every request goes through: request id, drain refusal, the
body cap (enforced while the body streams in), access log, latency metrics, tiny-model
warning header."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inkshadow.api.errors import error_body
from inkshadow.api.routes_files import UPLOAD_ROUTE, upload_body_cap
from inkshadow.api.state import TINY_WARNING, AppState
from inkshadow.errors import (
    AuthenticationError,
    InkshadowError,
    PayloadTooLarge,
    ServiceUnavailable,
)
from inkshadow.logs import request_id_var
from inkshadow.settings import Settings

log = logging.getLogger("inkshadow.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Probes answer without a key and are not counted as traffic.
PROBE_PATHS = frozenset({"/health", "/healthz", "/ready", "/metrics"})


def _body_cap(scope: Scope, settings: Settings) -> int:
    """`max_body_bytes` for every route but the upload route, which streams to disk under
    its own `upload_max_bytes` (videos are larger than JSON bodies)."""
    if scope.get("path") == UPLOAD_ROUTE and scope.get("method") == "POST":
        return max(settings.max_body_bytes, upload_body_cap(settings))
    return settings.max_body_bytes


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestMiddleware:
    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        incoming = _header(scope, b"x-request-id")
        rid = incoming if incoming and _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        path: str = scope["path"]
        started = time.perf_counter()
        status = 500
        extra = [(b"x-request-id", rid.encode())]
        if state.loaded and state.engine.info.tiny:
            extra.append((b"x-inkshadow-warning", TINY_WARNING.encode()))

        async def send_wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        probe = path in PROBE_PATHS
        try:
            if state.draining and not probe:
                await _reject(
                    send_wrapped, ServiceUnavailable("the server is shutting down; retry elsewhere")
                )
                return
            if not probe:
                try:
                    key_id = state.keys.verify_authorization(_header(scope, b"authorization"))
                except AuthenticationError as exc:
                    await _reject(send_wrapped, exc)
                    return
                # The tenant that owns sessions, jobs and cache entries made by this request.
                scope.setdefault("state", {})["tenant"] = key_id or "anonymous"
            cap = _body_cap(scope, state.settings)
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > cap:
                await _reject(
                    send_wrapped, PayloadTooLarge(f"the request body exceeds {cap} bytes")
                )
                return
            if not probe:
                state.in_flight += 1
                state.idle.clear()
                state.metrics.in_flight.inc()
            try:
                await self.app(scope, _capped(receive, cap), send_wrapped)
            finally:
                if not probe:
                    state.in_flight -= 1
                    state.metrics.in_flight.dec()
                    if state.in_flight == 0:
                        state.idle.set()
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            if not probe:
                state.metrics.requests.labels(route, method, str(status)).inc()
                state.metrics.latency.labels(route, method, str(status)).observe(elapsed)
                log.info(
                    "request",
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def _capped(receive: Receive, cap: int) -> Receive:
    """Count body bytes as they arrive and stop at the cap, before the rest is read."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                # An HTTPException passes through FastAPI's body parsing unchanged.
                raise HTTPException(413, f"the request body exceeds {cap} bytes")
        return message

    return wrapped


async def _reject(send: Any, exc: InkshadowError) -> None:
    """Answer before the app runs. The connection closes: the body may be unread."""
    body = json.dumps(error_body(exc.message, exc.type, exc.code, exc.param)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if isinstance(exc, ServiceUnavailable):
        headers.append((b"retry-after", str(max(1, round(exc.retry_after))).encode()))
    if isinstance(exc, AuthenticationError):
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
