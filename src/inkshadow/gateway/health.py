"""Active checks (GET the readiness path of every replica) and DNS re-resolution of a
headless Service name. A draining replica answers its readiness path with 503 and so stops
receiving new requests within one check period (sooner: a 503 answer marks it at once)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence

from inkshadow.gateway.upstream import Upstream

log = logging.getLogger("inkshadow.gateway")


async def probe(up: Upstream, path: str, seconds: float) -> bool:
    """True when the replica answers `path` with 200 within `seconds`."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_connection(up.host, up.port)
            writer.write(
                b"GET %s HTTP/1.1\r\nhost: %s\r\nuser-agent: inkshadow-gateway\r\n"
                b"connection: close\r\n\r\n" % (up.prefix + path.encode("ascii"), up.host_header)
            )
            line = await reader.readline()
        fields = line.split()
        return len(fields) >= 2 and fields[1] == b"200"
    except (OSError, TimeoutError, ValueError):
        return False
    finally:
        if writer is not None:
            writer.close()


async def check_all(upstreams: Sequence[Upstream], path: str, seconds: float) -> None:
    live = [u for u in upstreams if not u.removed]
    results = await asyncio.gather(*(probe(u, path, seconds) for u in live))
    for up, ok in zip(live, results, strict=True):
        if ok != up.ready:
            log.info("upstream %s", "ready" if ok else "not ready", extra={"upstream": up.name})
        up.ready = ok


async def run_checks(
    upstreams: Callable[[], Sequence[Upstream]], path: str, interval: float, seconds: float
) -> None:
    while True:
        await asyncio.sleep(interval)
        await check_all(upstreams(), path, seconds)


def split_dns_target(target: str) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError("gateway_upstream_dns must be NAME:PORT")
    return host.strip("[]"), int(port)


async def resolve(target: str) -> list[str]:
    """Upstream URLs for every address NAME resolves to (sorted, deduplicated)."""
    host, port = split_dns_target(target)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    urls = set()
    for family, _, _, _, sockaddr in infos:
        address = str(sockaddr[0])
        urls.add(
            f"http://[{address}]:{port}"
            if family == socket.AF_INET6
            else f"http://{address}:{port}"
        )
    return sorted(urls)


async def run_dns(target: str, interval: float, apply: Callable[[list[str]], None]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            urls = await resolve(target)
        except OSError as exc:
            # Keep the last known set: a DNS blip must not empty the pool.
            log.warning("upstream DNS lookup failed", extra={"error": type(exc).__name__})
        else:
            if urls:
                apply(urls)
