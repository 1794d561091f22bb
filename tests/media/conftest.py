"""Real HTTP servers on loopback, and a fetcher whose connections can only reach loopback.

The canary (127.0.0.1, and ::1 on the same port where IPv6 loopback works) records every
request; tests that must be refused assert it saw none. The content server (127.0.0.2)
plays the "allowed" host. As a safety net under the code being tested, the fetcher's
transport refuses to open any connection that is not to loopback, so a bug can never send
traffic elsewhere.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx
import pytest
from PIL import Image

from inkshadow.media.fetch import MediaFetcher, pinned_transport
from inkshadow.settings import Settings


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), (255, 0, 0)).save(buffer, "PNG")
    return buffer.getvalue()


PNG_BYTES = _png()


@dataclass
class ServerState:
    hits: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    forever_sent: int = 0
    forever_done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState


class _V6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # close-delimited bodies: no Content-Length needed
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server.state
        with state.lock:
            state.hits.append(self.path)
        parts = urlsplit(self.path)
        route = getattr(self, "_route_" + parts.path.strip("/").split("/")[0], None)
        if route is None:
            self._send(200, b"canary", "text/plain")
        else:
            route(parts.path, parse_qs(parts.query))

    def _send(self, status: int, body: bytes, ctype: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", Location=location)

    def _route_ok(self, path: str, query: dict[str, list[str]]) -> None:
        self._send(200, PNG_BYTES, "image/png; charset=binary")

    def _route_status(self, path: str, query: dict[str, list[str]]) -> None:
        self._send(int(path.rsplit("/", 1)[-1]), b"nope", "text/plain")

    def _route_redirect(self, path: str, query: dict[str, list[str]]) -> None:
        self._redirect(query["to"][0])

    def _route_loop(self, path: str, query: dict[str, list[str]]) -> None:
        self._redirect(f"/loop/{int(path.rsplit('/', 1)[-1]) + 1}")

    def _route_chain(self, path: str, query: dict[str, list[str]]) -> None:
        left = int(path.rsplit("/", 1)[-1])
        self._redirect(f"/chain/{left - 1}" if left else "/ok")

    def _route_drip(self, path: str, query: dict[str, list[str]]) -> None:
        # Each hop is quick on its own; only the whole chain is slower than the deadline.
        left = int(path.rsplit("/", 1)[-1])
        self.server.state.stop.wait(0.3)
        self._redirect(f"/drip/{left - 1}" if left else "/ok")

    def _route_slow(self, path: str, query: dict[str, list[str]]) -> None:
        self.server.state.stop.wait(30)

    def _route_declared(self, path: str, query: dict[str, list[str]]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(10**9))
        self.end_headers()
        self.wfile.flush()
        self.server.state.stop.wait(30)

    def _route_forever(self, path: str, query: dict[str, list[str]]) -> None:
        state = self.server.state
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.end_headers()
        chunk = b"\0" * 65536
        try:
            while not state.stop.is_set():
                self.wfile.write(chunk)
                with state.lock:
                    state.forever_sent += len(chunk)
        except OSError:
            pass  # the client hung up: what the test wants
        finally:
            state.forever_done.set()


@contextlib.contextmanager
def serving(servers: list[_Server]) -> Iterator[None]:
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for server in servers:
            server.state.stop.set()
            server.shutdown()
            server.server_close()


@dataclass
class Canary:
    state: ServerState
    port: int
    port6: int | None  # None: no IPv6 loopback here

    @property
    def hits(self) -> list[str]:
        return self.state.hits


@dataclass
class Content:
    state: ServerState
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.2:{self.port}"


def make_server(host: str, state: ServerState) -> _Server:
    server = _Server((host, 0), _Handler)
    server.state = state
    return server


def _ipv6_server(port: int, state: ServerState) -> _Server | None:
    if not socket.has_ipv6:
        return None
    for candidate in (port, 0):
        try:
            server = _V6Server(("::1", candidate), _Handler)
        except OSError:
            continue
        server.state = state
        return server
    return None


@pytest.fixture(scope="module")
def canary_server() -> Iterator[Canary]:
    state = ServerState()
    v4 = make_server("127.0.0.1", state)
    port = v4.server_address[1]
    v6 = _ipv6_server(port, state)
    servers = [v4] + ([v6] if v6 else [])
    with serving(servers):
        yield Canary(state, port, v6.server_address[1] if v6 else None)


@pytest.fixture
def canary(canary_server: Canary) -> Canary:
    canary_server.state.hits.clear()
    return canary_server


@pytest.fixture
def content() -> Iterator[Content]:
    state = ServerState()
    server = make_server("127.0.0.2", state)
    with serving([server]):
        yield Content(state, server.server_address[1])


class LoopbackOnly(httpcore.AsyncNetworkBackend):
    """Innermost backend in tests: refuses (and records) any non-loopback connection."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.refused: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None  # a name reached the socket layer: pinning failed
        loopback = ip is not None and (
            ip == ipaddress.ip_address("::1") or ip in ipaddress.ip_network("127.0.0.0/8")
        )
        if not loopback:
            self.refused.append(host)
            raise httpcore.ConnectError("test guard: only loopback may be reached")
        return await self._inner.connect_tcp(
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@pytest.fixture
def guard() -> LoopbackOnly:
    return LoopbackOnly()


MakeFetcher = Callable[..., MediaFetcher]


@pytest.fixture
def make_fetcher(guard: LoopbackOnly) -> Iterator[MakeFetcher]:
    def factory(pins: Mapping[str, str]) -> httpx.AsyncBaseTransport:
        return pinned_transport(pins, inner=guard)

    def make(**overrides: Any) -> MediaFetcher:
        overrides.setdefault("fetch_timeout_s", 5.0)
        return MediaFetcher(Settings(**overrides), transport_factory=factory)

    yield make
    assert guard.refused == [], "a connection to a non-loopback address was attempted"


def wait_for(event: threading.Event, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if event.wait(0.05):
            return True
    return False


def is_empty(folder: Path) -> bool:
    return not any(folder.iterdir())


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "dest"
    folder.mkdir()
    return folder
