"""A scripted OpenAI-ish upstream for gateway tests (test-only; never a product setting).

Run: python tests/gateway/upstream.py --port P --name NAME [--grace S]
Control at runtime with POST /_control {"latency_ms", "fail_rate", "fail_status",
"ready", "crash_in_stream_after"}; read counters at GET /_stats.
Any other path answers JSON naming this replica, or, when the JSON body says
"stream": true, an SSE stream of `n_chunks` events `chunk_ms` apart.
SIGTERM drains like a well-behaved replica: /ready turns 503 at once, new requests get 503
with `connection: close`, in-flight requests and streams finish, then the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
from typing import Any

import uvicorn

Scope = dict[str, Any]


class State:
    def __init__(self, name: str) -> None:
        self.name = name
        self.latency_ms = 0.0
        self.fail_rate = 0.0
        self.fail_status = 500
        self.ready = True
        self.draining = False
        self.crash_in_stream_after: int | None = None
        self.requests = 0
        self.in_flight = 0
        self.streams_done = 0
        self.started = 0  # requests whose body is still arriving or done
        self.idle = asyncio.Event()


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_json(send: Any, status: int, data: Any, close: bool = False) -> None:
    body = json.dumps(data).encode()
    headers = [(b"content-type", b"application/json")]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def make_app(state: State) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/ready":
            ok = state.ready and not state.draining
            await _send_json(send, 200 if ok else 503, {"ready": ok})
            return
        if path == "/health":
            await _send_json(send, 200, {"status": "ok"})
            return
        if path == "/_stats":
            await _send_json(
                send,
                200,
                {
                    "name": state.name,
                    "requests": state.requests,
                    "in_flight": state.in_flight,
                    "streams_done": state.streams_done,
                    "started": state.started,
                },
            )
            return
        if path != "/_control":
            state.started += 1
        body = await _body(receive)
        if path == "/_control":
            for key, value in json.loads(body or b"{}").items():
                setattr(state, key, value)
            await _send_json(send, 200, {"ok": True})
            return
        if state.draining:
            await _send_json(send, 503, {"error": {"message": "draining"}}, close=True)
            return
        state.requests += 1
        state.in_flight += 1
        state.idle.clear()
        try:
            await _answer(state, scope, body, send)
        finally:
            state.in_flight -= 1
            if not state.in_flight:
                state.idle.set()

    return app


async def _answer(state: State, scope: Scope, body: bytes, send: Any) -> None:
    request: dict[str, Any] = {}
    if body[:1] == b"{":
        request = json.loads(body)
    if state.latency_ms:
        await asyncio.sleep(state.latency_ms / 1000)
    if state.fail_rate and random.random() < state.fail_rate:
        await _send_json(send, state.fail_status, {"error": {"message": "scripted failure"}})
        return
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    if request.get("stream"):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        n = int(request.get("n_chunks", 5))
        delay = float(request.get("chunk_ms", 10)) / 1000
        for i in range(n):
            if state.crash_in_stream_after is not None and i >= state.crash_in_stream_after:
                os.kill(os.getpid(), signal.SIGKILL)
            event = {"upstream": state.name, "index": i}
            chunk = b"data: " + json.dumps(event).encode() + b"\n\n"
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        state.streams_done += 1
        return
    answer = {
        "upstream": state.name,
        "method": scope["method"],
        "path": scope["path"],
        "query": scope["query_string"].decode(),
        "headers": headers,
        "body_len": len(body),
    }
    await _send_json(send, 200, answer)


async def main(port: int, name: str, grace: float) -> None:
    state = State(name)
    config = uvicorn.Config(
        make_app(state), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no start event
        await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()

    async def drain() -> None:
        state.draining = True  # /ready false and new requests refused, at once
        if state.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.idle.wait(), grace)
        server.should_exit = True

    # Installed after uvicorn's own handlers, so SIGTERM drains instead of exiting.
    loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(drain()))
    await serving


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="up")
    parser.add_argument("--grace", type=float, default=30.0)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.name, args.grace))
