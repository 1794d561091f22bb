"""Liveness and readiness: loading, draining on SIGTERM, and a dead engine loop."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from inkshadow.api.app import create_app
from inkshadow.engine.transformers_engine import TransformersEngine
from inkshadow.families import Family
from inkshadow.settings import Settings
from tests.conftest import start_server, stop_server, tiny_model


def test_not_ready_while_loading_then_ready(tmp_path: Path) -> None:
    server = start_server(
        ["--model", str(tiny_model(Family.QWEN2_5_VL))], tmp_path / "s.log", wait_ready=False
    )
    try:
        seen: list[tuple[int, int]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(server.url + "/ready", timeout=2)
                health = httpx.get(server.url + "/health", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            seen.append((ready.status_code, health.status_code))
            if ready.status_code == 200:
                break
            assert ready.json() == {"ready": False, "reason": "loading"}
            time.sleep(0.05)
        # Alive throughout; not ready at first (weights load after the port opens), then ready.
        assert seen[0] == (503, 200)
        assert seen[-1] == (200, 200)
    finally:
        stop_server(server)


def test_sigterm_drains_open_streams_then_exits(tmp_path: Path) -> None:
    server = start_server(
        ["--model", str(tiny_model(Family.QWEN2_5_VL))],
        tmp_path / "s.log",
        env={"INKSHADOW_DRAIN_GRACE_S": "60"},
    )
    lines: list[str] = []
    first_token = threading.Event()

    def stream() -> None:
        # The grammar forbids ending before a 300-letter string: a long stream that still
        # ends by itself well within max_tokens (JSON escapes such as \u0061 cost ~6 tokens).
        schema = {
            "type": "object",
            "properties": {"t": {"type": "string", "pattern": "^[a-z]{300}$"}},
            "required": ["t"],
        }
        body = {
            "messages": [{"role": "user", "content": "go"}],
            "max_tokens": 2000,
            "stream": True,
            "response_format": {"type": "json_schema", "json_schema": {"schema": schema}},
        }
        with httpx.stream(
            "POST", server.url + "/v1/chat/completions", json=body, timeout=120
        ) as resp:
            for line in resp.iter_lines():
                if line:
                    lines.append(line)
                    first_token.set()

    reader = threading.Thread(target=stream)
    reader.start()
    try:
        assert first_token.wait(60)
        server.proc.send_signal(signal.SIGTERM)
        # Readiness flips at once, new work is refused, the open stream goes on.
        deadline = time.monotonic() + 5
        while httpx.get(server.url + "/ready").status_code != 503:
            assert time.monotonic() < deadline
        refused = httpx.post(
            server.url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "x"}], "max_tokens": 2},
        )
        assert refused.status_code == 503
        assert refused.headers["retry-after"]
        reader.join(120)
        assert lines[-1] == "data: [DONE]"
        assert not any('"error"' in line for line in lines)
        assert any('"finish_reason": "stop"' in line for line in lines)
        assert '"usage"' in lines[-2]
        assert server.proc.wait(30) == 0
    finally:
        reader.join(1)
        stop_server(server)


def test_health_fails_when_engine_loop_is_dead() -> None:
    settings = Settings(model=str(tiny_model(Family.QWEN2_5)))
    engine = TransformersEngine(settings)
    with TestClient(create_app(settings, engine)) as client:
        deadline = time.monotonic() + 60
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get("/health").status_code == 200
        # Stop the engine's loop the way a crash would leave it: thread gone.
        import asyncio

        asyncio.run(engine.close())
        assert not engine.alive()
        assert client.get("/health").status_code == 503
        assert client.get("/healthz").status_code == 503
        assert client.get("/ready").status_code == 503
        resp = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}
        )
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "service_unavailable"
