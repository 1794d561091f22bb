"""Gateway benchmark: one fast upstream measured directly, through the inkshadow gateway and
through the Rust `vllm-router` (PyPI), in one run. Prints JSON.

    .venv/bin/python bench/gateway.py [--rate 500] [--seconds 6] [--wrk-seconds 8]

Added latency = P50/P99 through a router minus P50/P99 direct, from an open-loop client
sending `rate` requests per second over kept-alive connections. Maximum throughput comes
from `wrk` (apt package `wrk`) when installed, else from a closed-loop Python client.
Everything runs on loopback on this machine, so the upstream, the router and the load
generator share its cores: read throughput as relative, not absolute.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder leads sys.path, and bench/queue.py there shadows the
# standard `queue` module that logging and psycopg import: drop the folder first.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from typing import Any

import httptools

BODY = json.dumps(
    {"id": "cmpl-1", "object": "chat.completion", "choices": [{"message": {"content": "ok"}}]}
).encode()
REQUEST_BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1}'


# --- the fast upstream ----------------------------------------------------------------------
class _Upstream(asyncio.Protocol):
    RESPONSE = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        % len(BODY)
        + BODY
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.transport.write(self.RESPONSE)  # type: ignore[attr-defined]


async def _serve_upstream(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Upstream, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


# --- the load generator ---------------------------------------------------------------------
class _Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(0)


def _request(port: int) -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:%d\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
        % (port, len(REQUEST_BODY), REQUEST_BODY)
    )


async def _one(pool: list[_Client], port: int, data: bytes) -> tuple[float, int]:
    loop = asyncio.get_running_loop()
    client = pool.pop() if pool else (await loop.create_connection(_Client, "127.0.0.1", port))[1]
    client.done = loop.create_future()
    start = time.perf_counter()
    client.transport.write(data)  # type: ignore[attr-defined]
    status = await client.done
    elapsed = time.perf_counter() - start
    if status:
        pool.append(client)
    return elapsed, status


async def open_loop(port: int, rate: float, seconds: float) -> dict[str, float]:
    data = _request(port)
    pool: list[_Client] = []
    for _ in range(50):  # warm-up, also fills the pool
        await _one(pool, port, data)
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for i in range(int(rate * seconds)):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(_one(pool, port, data)))
    results = await asyncio.gather(*tasks)
    lat = sorted(r[0] * 1000 for r in results)
    errors = sum(1 for r in results if r[1] != 200)
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 4), "p99_ms": round(q[98], 4), "errors": errors, "n": len(lat)}


async def closed_loop(port: int, connections: int, seconds: float) -> float:
    data = _request(port)
    count = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal count
        pool: list[_Client] = []
        while time.perf_counter() < deadline:
            await _one(pool, port, data)
            count += 1

    await asyncio.gather(*(worker() for _ in range(connections)))
    return count / seconds


def max_throughput(port: int, seconds: float) -> dict[str, object]:
    wrk = shutil.which("wrk")
    if wrk:
        lua = Path(tempfile.gettempdir()) / "inkshadow-bench-post.lua"
        lua.write_text(
            'wrk.method = "POST"\nwrk.body = ' + json.dumps(REQUEST_BODY.decode()) + "\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        out = subprocess.run(
            [wrk, "-t1", "-c64", f"-d{max(1, round(seconds))}s", "-s", str(lua),
             f"http://127.0.0.1:{port}/v1/chat/completions"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        bad = int(non2xx.group(1)) if non2xx else 0
        return {"rps": round(rps), "tool": "wrk -t1 -c64", "non_2xx": bad}
    rps = asyncio.run(closed_loop(port, 64, seconds))
    return {"rps": round(rps), "tool": "python closed loop, 64 connections"}


# --- orchestration --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(port: int, path: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}")


def _summary(rounds: list[dict[str, float]]) -> dict[str, float]:
    keys = rounds[0].keys()
    return {k: round(statistics.median(r[k] for r in rounds), 4) for k in keys}


def _start(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--wrk-seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if args.serve_upstream:
        asyncio.run(_serve_upstream(args.serve_upstream))
        return
    up_port, gw_port, vr_port = _free_port(), _free_port(), _free_port()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(_start([sys.executable, __file__, "--serve-upstream", str(up_port)]))
        _wait_http(up_port, "/health")
        upstream = f"http://127.0.0.1:{up_port}"
        targets = {"direct": up_port}
        procs.append(_start(
            [sys.executable, "-m", "inkshadow.gateway", "--upstream", upstream,
             "--port", str(gw_port), "--policy", "round_robin"]
        ))  # fmt: skip
        _wait_http(gw_port, "/ready")
        targets["inkshadow_gateway"] = gw_port
        router = shutil.which("vllm-router") or str(Path(sys.executable).parent / "vllm-router")
        if Path(router).exists():
            procs.append(_start(
                [router, "--worker-urls", upstream, "--port", str(vr_port),
                 "--policy", "round_robin", "--log-level", "error", "--disable-retries",
                 "--disable-circuit-breaker"]
            ))  # fmt: skip
            _wait_http(vr_port, "/health", 60)
            targets["vllm_router"] = vr_port
        else:
            print("vllm-router not installed (pip install 'inkshadow[bench]'): the peer "
                  "comparison is left out", file=sys.stderr)  # fmt: skip
        results: dict[str, Any] = {
            "rate_rps": args.rate,
            "rounds": args.rounds,
            "cpu_count": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        }
        latency: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        throughput: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _ in range(args.rounds):  # alternate, so drifting machine load hits all alike
            for name, port in targets.items():
                latency[name].append(asyncio.run(open_loop(port, args.rate, args.seconds)))
            for name, port in targets.items():
                throughput[name].append(max_throughput(port, args.wrk_seconds))
        results["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        direct = _summary(latency["direct"])
        for name in targets:
            lat = _summary(latency[name])
            entry: dict[str, Any] = {
                "latency_at_rate_median": lat,
                "p99_ms_each_round": [r["p99_ms"] for r in latency[name]],
                "max_rps_median": round(statistics.median(t["rps"] for t in throughput[name])),
                "max_rps_each_round": [t["rps"] for t in throughput[name]],
                "throughput_tool": throughput[name][0]["tool"],
            }
            if name != "direct":
                entry["added_p50_ms"] = round(lat["p50_ms"] - direct["p50_ms"], 4)
                entry["added_p99_ms"] = round(lat["p99_ms"] - direct["p99_ms"], 4)
            results[name] = entry
        goals: dict[str, Any] = {
            "added_p99_ms_at_most_2": results["inkshadow_gateway"]["added_p99_ms"] <= 2.0
        }
        if "vllm_router" in results:
            ours = results["inkshadow_gateway"]["max_rps_median"]
            theirs = results["vllm_router"]["max_rps_median"]
            results["throughput_ratio_vs_vllm_router"] = round(ours / theirs, 3)
            goals["throughput_at_least_2_3_of_vllm_router"] = ours >= theirs * 2 / 3
        else:
            results["vllm_router"] = {"missing": "pip install 'inkshadow[bench]'"}
            goals["throughput_at_least_2_3_of_vllm_router"] = None  # not measured
        results["goals"] = goals
        print(json.dumps(results, indent=2))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
