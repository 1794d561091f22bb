"""Chat sessions over HTTP: history kept server-side, per tenant; Redis down → answers still
flow, session calls get 503."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from inkshadow.families import Family
from tests.conftest import ServerProcess, start_server, stop_server, tiny_model
from tests.redis_server import redis_process


def turn(server: ServerProcess, text: str, session: str | None, **kw: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 4,
        "temperature": 0,
    }
    if session is not None:
        body["session_id"] = session
    return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=60, **kw)


def test_history_is_kept_and_forgotten(vl_server: ServerProcess) -> None:
    first = turn(vl_server, "my name is Ada", "s-history").json()
    assert first["session_id"] == "s-history"
    second = turn(vl_server, "what is my name?", "s-history").json()
    alone = turn(vl_server, "what is my name?", None).json()
    # The second turn's prompt carries the first exchange; the same question alone does not.
    assert second["usage"]["prompt_tokens"] > alone["usage"]["prompt_tokens"] + 5
    got = httpx.get(vl_server.url + "/v1/sessions/s-history").json()
    assert [m["role"] for m in got["messages"]] == ["user", "assistant", "user", "assistant"]
    assert got["messages"][0]["content"] == "my name is Ada"
    assert got["messages"][1]["content"] == first["choices"][0]["message"]["content"]
    assert 0 < got["expires_in"] <= 3600
    assert httpx.delete(vl_server.url + "/v1/sessions/s-history").status_code == 204
    missing = httpx.get(vl_server.url + "/v1/sessions/s-history")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def test_streamed_turns_are_saved(vl_server: ServerProcess) -> None:
    body = {
        "messages": [{"role": "user", "content": "stream me"}],
        "max_tokens": 4,
        "stream": True,
        "session_id": "s-stream",
    }
    with httpx.stream("POST", vl_server.url + "/v1/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        list(resp.iter_lines())
    got = httpx.get(vl_server.url + "/v1/sessions/s-stream").json()
    assert [m["role"] for m in got["messages"]] == ["user", "assistant"]


def test_bad_session_id(vl_server: ServerProcess) -> None:
    resp = turn(vl_server, "x", "../../etc/passwd")
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "session_id"


def test_redis_down_answers_flow_sessions_503(tmp_path: Path) -> None:
    redis = redis_process(tmp_path)
    server = start_server(
        ["--model", str(tiny_model(Family.QWEN2_5))],
        tmp_path / "s.log",
        env={"INKSHADOW_REDIS_URL": redis.url},
    )
    try:
        assert turn(server, "hello", "s-redis").status_code == 200
        got = httpx.get(server.url + "/v1/sessions/s-redis")
        assert got.status_code == 200 and len(got.json()["messages"]) == 2
        redis.stop()
        assert turn(server, "still there?", None).status_code == 200
        down = turn(server, "and my session?", "s-redis")
        assert down.status_code == 503
        assert down.headers["retry-after"]
        assert down.json()["error"]["code"] == "cache_unavailable"
        assert httpx.get(server.url + "/v1/sessions/s-redis").status_code == 503
    finally:
        stop_server(server)
        redis.stop()
