"""Job-end webhooks: a signed POST to a URL that passes the same SSRF rules as media URLs
(form check, one checked DNS answer pinned for the connection, no redirects followed).

Signature: header `Inkshadow-Signature: t=<unix seconds>,v1=<hex>` where hex is
HMAC-SHA256(secret, "<t>.<raw body>") — receivers recompute it and reject old `t` values.
Delivery is best effort after the job's commit (a few tries with backoff)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time

import httpx

from inkshadow.errors import InkshadowError
from inkshadow.jobs.types import JobEnd
from inkshadow.media.fetch import pinned_transport
from inkshadow.media.netguard import AllowList, check_http_url, resolve_checked
from inkshadow.settings import Settings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "Inkshadow-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, tolerance_s: float = 300.0) -> bool:
    """What a receiver does (kept here for tests and client code)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


class WebhookSender:
    def __init__(self, settings: Settings, *, tries: int = 3, timeout_s: float = 10.0) -> None:
        self._allow = AllowList.parse(settings.fetch_allow_hosts)
        self._tries = tries
        self._timeout_s = timeout_s

    async def send(self, end: JobEnd) -> bool:
        if not end.webhook_url:
            return False
        body = json.dumps({"type": f"job.{end.status}", "data": end.view.to_json()}).encode()
        for attempt in range(1, self._tries + 1):
            try:
                if await self._post(end.webhook_url, end.webhook_secret or "", body):
                    return True
            except (InkshadowError, httpx.HTTPError, TimeoutError) as exc:
                log.warning("webhook for %s failed: %s", end.job_id, type(exc).__name__)
            if attempt < self._tries:
                await asyncio.sleep(0.5 * 2**attempt)
        return False

    async def _post(self, url: str, secret: str, body: bytes) -> bool:
        target = check_http_url(url)
        address = await resolve_checked(target, self._allow)
        headers = {"content-type": "application/json", "user-agent": "inkshadow-webhook"}
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body, int(time.time()))
        request = httpx.Request("POST", target.url, content=body, headers=headers)
        # The transport is used bare (as the media fetcher does): redirects are never built.
        async with (
            asyncio.timeout(self._timeout_s),
            pinned_transport({target.host: address}) as transport,
        ):
            response = await transport.handle_async_request(request)
            await response.aclose()
        return 200 <= response.status_code < 300
