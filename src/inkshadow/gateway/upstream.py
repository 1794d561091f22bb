"""One upstream replica: its address, health state, load and pool of kept-alive connections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from inkshadow.errors import InvalidRequest
from inkshadow.gateway.connection import UpstreamConnection, UpstreamFailure
from inkshadow.gateway.metrics import UpstreamStats

_MAX_IDLE = 256


class Upstream:
    """Mutable state of one replica. All mutation happens on the event loop thread."""

    def __init__(
        self, url: str, stats: Callable[[str], UpstreamStats], *, canary: bool = False
    ) -> None:
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme != "http" or not parts.hostname:
            raise InvalidRequest("gateway upstreams must be http://HOST:PORT URLs")
        self.url = url
        self.name = f"{parts.hostname}:{parts.port or 80}"
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/").encode("ascii")
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = f"{host}:{self.port}".encode("ascii")
        self.canary = canary
        self.stats = stats(self.name)
        self.in_flight = 0
        self.ready = True  # until the first active check says otherwise
        self.removed = False
        self.failures = 0  # consecutive
        self.ejections = 0  # consecutive ejections: doubles the next ejection time
        self.ejected_until = 0.0
        self._idle: list[UpstreamConnection] = []

    def __repr__(self) -> str:
        return f"Upstream({self.name})"

    def available(self, now: float) -> bool:
        return self.ready and not self.removed and now >= self.ejected_until

    # --- load -----------------------------------------------------------------------------
    def begin(self) -> None:
        self.in_flight += 1

    def end(self) -> None:
        self.in_flight -= 1

    # --- passive health -------------------------------------------------------------------
    def succeeded(self, eject_max_s: float) -> None:
        self.failures = 0
        if self.ejections and time.monotonic() > self.ejected_until + eject_max_s:
            self.ejections = 0  # healthy for a long while: forget past ejections

    def failed(self, eject_after: int, base_s: float, max_s: float) -> bool:
        """Count a failure; eject after `eject_after` in a row. True when it ejected."""
        self.failures += 1
        if self.failures < eject_after:
            return False
        self.failures = 0
        self.ejections += 1
        delay = min(base_s * (2 ** (self.ejections - 1)), max_s)
        self.ejected_until = time.monotonic() + delay
        self.stats.ejections += 1
        return True

    # --- connections ----------------------------------------------------------------------
    async def connect(self, seconds: float) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: UpstreamConnection(loop), self.host, self.port),
                seconds,
            )
        except (OSError, TimeoutError) as exc:
            raise UpstreamFailure("connect", reused=False) from exc
        return proto

    def take_idle(self) -> UpstreamConnection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                return conn
        return None

    def release(self, conn: UpstreamConnection) -> None:
        if conn.usable and not self.removed and len(self._idle) < _MAX_IDLE:
            self._idle.append(conn)
        else:
            conn.close()

    def close_idle(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
