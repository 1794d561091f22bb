"""Bytes the gateway writes itself: OpenAI-shaped errors, its own small JSON answers, and
response heads. Messages are for clients: no hosts, ports or exception text."""

from __future__ import annotations

import json
from http import HTTPStatus

from inkshadow.errors import InkshadowError, RateLimited, ServiceUnavailable

_REASONS = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}


def reason(status: int) -> bytes:
    return _REASONS.get(status, b"Unknown")


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def simple_response(
    status: int,
    body: bytes,
    *,
    content_type: bytes = b"application/json",
    request_id: bytes = b"",
    close: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> bytes:
    lines = [
        b"HTTP/1.1 %d %s" % (status, reason(status)),
        b"content-type: " + content_type,
        b"content-length: %d" % len(body),
    ]
    if request_id:
        lines.append(b"x-request-id: " + request_id)
    for name, value in extra or ():
        lines.append(name + b": " + value)
    if close:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def error_response(exc: InkshadowError, *, request_id: bytes = b"", close: bool = False) -> bytes:
    extra: list[tuple[bytes, bytes]] = []
    if isinstance(exc, RateLimited | ServiceUnavailable):
        # Whole seconds, at least 1: what clients and load balancers parse.
        extra.append((b"retry-after", b"%d" % max(1, round(exc.retry_after))))
    if exc.status == 401:
        extra.append((b"www-authenticate", b"Bearer"))
    body = error_body(exc.message, exc.type, exc.code, exc.param)
    return simple_response(exc.status, body, request_id=request_id, close=close, extra=extra)


def sse_error_event(message: str, code: str = "upstream_stream_cut") -> bytes:
    """One SSE event telling a streaming client its answer was cut short."""
    return b"data: " + error_body(message, "upstream_error", code) + b"\n\n"
