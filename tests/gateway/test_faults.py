"""Faults: a replica killed under load, a replica drained with open streams, the gateway
itself drained."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable

import httpx

from tests.gateway.conftest import Cluster, Proc


async def _stream(
    client: httpx.AsyncClient, n: int, chunk_ms: int
) -> tuple[list[dict[str, object]], bool]:
    """Read one SSE answer: its events, and whether it ended with [DONE]."""
    events: list[dict[str, object]] = []
    done = False
    body = {"stream": True, "n_chunks": n, "chunk_ms": chunk_ms}
    async with client.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                events.append(json.loads(line[6:]))
    return events, done


async def _steady(client: httpx.AsyncClient, rate: float, seconds: float) -> tuple[int, int]:
    """Open-loop non-streamed requests; returns (sent, failed)."""
    failures = 0

    async def one() -> None:
        nonlocal failures
        try:
            r = await client.post("/v1/chat/completions", json={})
            if r.status_code != 200:
                failures += 1
        except httpx.HTTPError:
            failures += 1

    tasks = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
        tasks.append(asyncio.ensure_future(one()))
    await asyncio.gather(*tasks)
    return len(tasks), failures


async def _until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    """Wait for a state of another process, which can only be read by asking it."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def _client(gw: Proc) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    return httpx.AsyncClient(base_url=gw.url, timeout=20, limits=limits)


async def test_kill_9_one_of_three_under_load(cluster: Cluster) -> None:
    ups = [cluster.upstream(n) for n in "abc"]
    for up in ups:
        up.control(latency_ms=20)
    gw = cluster.gateway(ups)
    async with _client(gw) as client:
        streams = [asyncio.ensure_future(_stream(client, 40, 50)) for _ in range(6)]
        load = asyncio.ensure_future(_steady(client, rate=120, seconds=4))
        await asyncio.sleep(1.0)  # streams and load are running on all three
        ups[1].stop()  # SIGKILL
        sent, failed = await load
        results = await asyncio.gather(*streams)
    assert failed <= sent * 0.001, (sent, failed)
    cut = 0
    for events, done in results:
        if done:
            assert all("error" not in e for e in events)
        else:  # cut mid-way: it must say so, last, as an OpenAI-shaped error event
            cut += 1
            assert events[0]["upstream"] == "b"
            error = events[-1]["error"]
            assert isinstance(error, dict) and error["type"] == "upstream_error"
    assert cut >= 1
    async with httpx.AsyncClient() as c:
        metrics = (await c.get(gw.url + "/metrics")).text
    assert (
        f'inkshadow_gateway_upstream_errors_total{{kind="cut",upstream="127.0.0.1:{ups[1].port}"}}'
        in metrics
    )
    # Requests that met the dead replica were retried elsewhere, and counted.
    retried = f'inkshadow_gateway_upstream_retries_total{{upstream="127.0.0.1:{ups[1].port}"}} '
    line = next(x for x in metrics.splitlines() if x.startswith(retried))
    assert float(line.split()[-1]) >= 1


async def _wait_metric(gw: Proc, line: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=gw.url) as c:
        while time.monotonic() < deadline:
            if line in (await c.get("/metrics")).text:
                return
            await asyncio.sleep(0.05)
    raise TimeoutError(line)


async def test_sigterm_to_a_replica_holding_20_streams(cluster: Cluster) -> None:
    a, b = cluster.upstream("a"), cluster.upstream("b")
    b.control(ready=False)
    gw = cluster.gateway([a, b])
    await _wait_metric(gw, f'inkshadow_gateway_upstream_ready{{upstream="127.0.0.1:{b.port}"}} 0.0')
    async with _client(gw) as client:
        streams = [asyncio.ensure_future(_stream(client, 60, 50)) for _ in range(20)]
        await _until(lambda: a.stats()["in_flight"] >= 20)
        b.control(ready=True)
        await _wait_metric(
            gw, f'inkshadow_gateway_upstream_ready{{upstream="127.0.0.1:{b.port}"}} 1.0'
        )
        a.signal(signal.SIGTERM)
        sent, failed = await _steady(client, rate=50, seconds=1.0)  # new work goes to b
        results = await asyncio.gather(*streams)
    assert failed == 0 and sent > 0
    assert all(done and len(events) == 60 for events, done in results)
    assert a.proc.wait(10) == 0  # it exited by itself once the streams were done


async def test_gateway_drains_on_sigterm(cluster: Cluster) -> None:
    up = cluster.upstream("a")
    gw = cluster.gateway([up])
    async with _client(gw) as client:
        streams = [asyncio.ensure_future(_stream(client, 60, 50)) for _ in range(5)]
        await _until(lambda: up.stats()["in_flight"] >= 5)
        gw.signal(signal.SIGTERM)
        async with httpx.AsyncClient(base_url=gw.url, timeout=5) as fresh:
            deadline = time.monotonic() + 5  # the signal lands asynchronously
            while (await fresh.get("/ready")).status_code != 503:
                assert time.monotonic() < deadline, "/ready stayed 200 after SIGTERM"
                await asyncio.sleep(0.01)
            refused = await fresh.post("/v1/chat/completions", json={})
            assert refused.status_code == 503 and "retry-after" in refused.headers
        results = await asyncio.gather(*streams)
    assert all(done and len(events) == 60 for events, done in results)
    assert gw.proc.wait(10) == 0
    assert '"msg":"drained"' in gw.logs()


async def test_502_is_retried_elsewhere_and_ejects_the_replica(cluster: Cluster) -> None:
    bad, good = cluster.upstream("bad"), cluster.upstream("good")
    bad.control(fail_rate=1.0, fail_status=502)
    gw = cluster.gateway([bad, good], env={"INKSHADOW_GATEWAY_EJECT_BASE_S": "30"})
    async with _client(gw) as client:
        for _ in range(20):
            r = await client.post("/v1/chat/completions", json={})
            assert r.status_code == 200 and r.json()["upstream"] == "good"
        metrics = (await client.get("/metrics")).text
    name = f'upstream="127.0.0.1:{bad.port}"'
    assert f"inkshadow_gateway_upstream_ejections_total{{{name}}} 1.0" in metrics
    assert f'inkshadow_gateway_upstream_errors_total{{kind="status",{name}}} 3.0' in metrics
    assert bad.stats()["requests"] == 3  # ejected after three in a row: no more traffic


async def test_application_errors_pass_through(cluster: Cluster) -> None:
    up = cluster.upstream("a")
    up.control(fail_rate=1.0, fail_status=500)
    gw = cluster.gateway([up])
    async with _client(gw) as client:
        r = await client.post("/v1/chat/completions", json={})
    assert r.status_code == 500 and r.json() == {"error": {"message": "scripted failure"}}
