"""Job-end webhooks obey the media URL rules: a private address is never contacted unless
the allow-list names it (the positive control), and redirects are not followed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from inkshadow.jobs.types import JobEnd, JobView
from inkshadow.jobs.webhook import SIGNATURE_HEADER, WebhookSender, verify
from inkshadow.settings import Settings


class _Canary(BaseHTTPRequestHandler):
    hits: ClassVar[list[tuple[str, bytes, str]]] = []
    redirect_to: ClassVar[str | None] = None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.hits.append((self.path, body, self.headers.get(SIGNATURE_HEADER, "")))
        if self.redirect_to and self.path == "/bounce":
            self.send_response(307)
            self.send_header("location", self.redirect_to)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return None


@pytest.fixture
def canary() -> Iterator[str]:
    _Canary.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Canary)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def end(url: str) -> JobEnd:
    view = JobView("job_1", "anonymous", "video", "succeeded", 1, 1, 1.0, 2.0, 3.0, None, None)
    return JobEnd("job_1", "succeeded", 1.0, 3.0, url, "a-secret-of-16-chars", view)


async def test_private_webhook_is_refused_unless_allowed(canary: str) -> None:
    refused = WebhookSender(Settings(), tries=1)
    for url in (canary + "/hook", canary.replace("127.0.0.1", "127.1") + "/hook"):
        assert await refused.send(end(url)) is False
    assert _Canary.hits == []
    allowed = WebhookSender(Settings(fetch_allow_hosts=["127.0.0.1"]), tries=1)
    assert await allowed.send(end(canary + "/hook")) is True
    path, body, signature = _Canary.hits[0]
    assert path == "/hook" and verify("a-secret-of-16-chars", body, signature)


async def test_redirects_are_not_followed(canary: str) -> None:
    _Canary.redirect_to = canary + "/elsewhere"
    try:
        sender = WebhookSender(Settings(fetch_allow_hosts=["127.0.0.1"]), tries=1)
        assert await sender.send(end(canary + "/bounce")) is False
    finally:
        _Canary.redirect_to = None
    assert [hit[0] for hit in _Canary.hits] == ["/bounce"]
