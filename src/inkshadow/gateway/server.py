"""Running a gateway: listen, check upstreams, and drain on SIGTERM.

Drain: /ready turns 503 at once, idle kept-alive connections close, every new request
gets 503 with Retry-After and `connection: close` (the socket stays open until the drain
ends so probes can read the 503), in-flight requests and streams get up to
`drain_grace_s` to finish; then the process exits."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time

from inkshadow.gateway.app import Gateway, describe
from inkshadow.gateway.health import check_all, resolve, run_checks, run_dns
from inkshadow.settings import Settings

log = logging.getLogger("inkshadow.gateway")

# Longer than common load-balancer idle timeouts (60 s), so the client side closes first.
_KEEPALIVE_S = 75.0


async def _sweep_idle(gateway: Gateway) -> None:
    while True:
        await asyncio.sleep(5.0)
        cutoff = time.monotonic() - _KEEPALIVE_S
        for conn in list(gateway.connections):
            if not conn.busy and conn.last_active < cutoff:
                conn.close()


async def serve(settings: Settings, *, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    gateway = Gateway(settings)
    s = settings
    tasks: list[asyncio.Task[None]] = []
    if s.gateway_upstream_dns:
        with contextlib.suppress(OSError):  # the loop below keeps trying
            gateway.apply_dns(await resolve(s.gateway_upstream_dns))
        dns = run_dns(s.gateway_upstream_dns, s.gateway_dns_interval_s, gateway.apply_dns)
        tasks.append(loop.create_task(dns))
    await check_all(gateway.upstreams(), s.gateway_health_path, s.gateway_health_timeout_s)
    tasks.append(
        loop.create_task(
            run_checks(
                gateway.upstreams,
                s.gateway_health_path,
                s.gateway_health_interval_s,
                s.gateway_health_timeout_s,
            )
        )
    )
    tasks.append(loop.create_task(_sweep_idle(gateway)))
    server = await loop.create_server(
        gateway.protocol, host, port, reuse_address=True, backlog=4096
    )
    # Everything allocated so far (modules, settings, metrics) lives as long as the process:
    # freezing it keeps the cyclic GC from rescanning it, which otherwise shows up as
    # multi-millisecond pauses in the tail latency of every request in flight.
    gc.collect()
    gc.freeze()
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    log.info("gateway listening", extra={"host": host, "port": bound, **describe(gateway)})
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("draining", extra={"in_flight": gateway.active, "grace_s": s.drain_grace_s})
        # Keep listening while draining: /ready answers 503 (what probes and load balancers
        # read) and new requests get 503 + Retry-After + connection: close.
        gateway.begin_drain()
        finished = await gateway.wait_idle(s.drain_grace_s)
        log.info("drained" if finished else "grace period over", extra={"left": gateway.active})
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await gateway.close()
        server.close()
        await server.wait_closed()


def run(settings: Settings, *, host: str, port: int) -> None:
    """Run until SIGTERM/SIGINT and the drain that follows; uses uvloop when installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(settings, host=host, port=port))
    else:
        uvloop.run(serve(settings, host=host, port=port))
