"""The in-process engine end to end over HTTP, with tiny Qwen2.5-VL and Qwen3-VL models."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.api.media_payloads import mp4_data_url, png_data_url
from tests.conftest import ServerProcess

SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["person", "car", "dog"]},
        "start": {"type": "integer", "minimum": 0, "maximum": 60},
    },
    "required": ["label", "start"],
    "additionalProperties": False,
}


def chat(server: ServerProcess, body: dict[str, Any], timeout: float = 120) -> httpx.Response:
    return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=timeout)


def user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(parts)}]


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


def assert_completion(resp: httpx.Response, max_tokens: int) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in {"stop", "length"}
    usage = body["usage"]
    assert 0 < usage["completion_tokens"] <= max_tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert resp.headers["x-inkshadow-warning"].startswith("random-weight")
    return body


@pytest.fixture(params=["qwen2.5-vl", "qwen3-vl"])
def server(request: pytest.FixtureRequest, vl_server: ServerProcess) -> ServerProcess:
    if request.param == "qwen2.5-vl":
        return vl_server
    qwen3: ServerProcess = request.getfixturevalue("qwen3_server")
    return qwen3


def test_text(server: ServerProcess) -> None:
    resp = chat(server, {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 6})
    assert_completion(resp, 6)


def test_image_costs_visual_tokens(server: ServerProcess) -> None:
    plain = assert_completion(chat(server, {"messages": user(text("what?")), "max_tokens": 4}), 4)
    with_image = assert_completion(
        chat(
            server,
            {
                "messages": user(
                    {"type": "image_url", "image_url": {"url": png_data_url(112, 112)}},
                    text("what?"),
                ),
                "max_tokens": 4,
            },
        ),
        4,
    )
    # 112x112 at 28 px per merged token is 16 visual tokens (Qwen3-VL: 96x96 → 9 at 32 px).
    extra = with_image["usage"]["prompt_tokens"] - plain["usage"]["prompt_tokens"]
    assert extra >= 9 + 2  # visual tokens plus vision start/end markers


def test_video(server: ServerProcess, tmp_path: Path) -> None:
    url = mp4_data_url(tmp_path, frames=60, fps=30)  # 2 s → 4 frames at 2 fps
    body = {
        "messages": user({"type": "video_url", "video_url": {"url": url}}, text("what happens?")),
        "max_tokens": 5,
    }
    completion = assert_completion(chat(server, body), 5)
    assert completion["usage"]["prompt_tokens"] > 20


def test_stream(server: ServerProcess) -> None:
    body = {"messages": user(text("count")), "max_tokens": 8, "stream": True, "seed": 3}
    events: list[dict[str, Any]] = []
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    for line in lines[:-1]:
        assert line.startswith("data: ")
        events.append(json.loads(line[6:]))
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    pieces = [e["choices"][0]["delta"].get("content", "") for e in events if e["choices"]]
    assert sum(1 for p in pieces if p) >= 2  # token by token, not one blob
    finishes = [e["choices"][0]["finish_reason"] for e in events if e["choices"]]
    assert finishes[-1] in {"stop", "length"}
    assert events[-1]["usage"]["completion_tokens"] <= 8
    # The same seed without streaming gives the same text.
    plain = chat(server, {**body, "stream": False}).json()
    assert plain["choices"][0]["message"]["content"] == "".join(pieces)


def test_json_schema_output_validates(server: ServerProcess) -> None:
    for seed in range(3):
        body = {
            "messages": user(text("label the event")),
            "max_tokens": 40,
            "seed": seed,
            "temperature": 1.0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "event", "schema": SCHEMA, "strict": True},
            },
        }
        content = assert_completion(chat(server, body), 40)["choices"][0]["message"]["content"]
        jsonschema.validate(json.loads(content), SCHEMA)


def test_generate_route_returns_parsed_json(vl_server: ServerProcess) -> None:
    resp = httpx.post(
        vl_server.url + "/generate",
        json={
            "prompt": "one event",
            "max_tokens": 40,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "event", "schema": SCHEMA},
            },
        },
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    jsonschema.validate(body["result"], SCHEMA)
    assert json.loads(body["text"]) == body["result"]
    plain = httpx.post(vl_server.url + "/generate", json={"prompt": "hi", "max_tokens": 3})
    assert plain.status_code == 200 and "result" not in plain.json()


def test_concurrent_requests_share_one_batch(vl_server: ServerProcess, tmp_path: Path) -> None:
    """Text, image and video requests sent together are generated in one batch (the server
    waits 300 ms for companions), and greedy answers equal the one-by-one answers."""
    bodies = [
        {"messages": user(text("first")), "max_tokens": 6, "temperature": 0},
        {"messages": user(text("second question")), "max_tokens": 6, "temperature": 0},
        {
            "messages": user(
                {"type": "image_url", "image_url": {"url": png_data_url(84, 56)}}, text("img")
            ),
            "max_tokens": 6,
            "temperature": 0,
        },
        {
            "messages": user(
                {"type": "video_url", "video_url": {"url": mp4_data_url(tmp_path, frames=30)}},
                text("vid"),
            ),
            "max_tokens": 6,
            "temperature": 0,
        },
    ]

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=vl_server.url, timeout=120) as client:
            return await asyncio.gather(
                *[client.post("/v1/chat/completions", json=b) for b in bodies]
            )

    together = asyncio.run(send_all())
    assert [r.headers["x-inkshadow-batch-size"] for r in together] == ["4"] * 4
    alone = [chat(vl_server, b) for b in bodies]
    assert [r.headers["x-inkshadow-batch-size"] for r in alone] == ["1"] * 4
    for a, b in zip(together, alone, strict=True):
        assert a.json()["choices"][0]["message"] == b.json()["choices"][0]["message"]
    metrics = httpx.get(vl_server.url + "/metrics").text
    assert 'inkshadow_batch_size_bucket{le="4.0"}' in metrics


def test_models_and_metrics(vl_server: ServerProcess) -> None:
    models = httpx.get(vl_server.url + "/v1/models").json()
    assert models["data"][0]["id"] == "qwen2.5-vl"
    assert models["data"][0]["random_weights"] is True
    text_metrics = httpx.get(vl_server.url + "/metrics").text
    for name in (
        "inkshadow_http_request_duration_seconds_bucket",
        "inkshadow_time_to_first_token_seconds_bucket",
        "inkshadow_generation_tokens_total",
        "inkshadow_batch_size_bucket",
    ):
        assert name in text_metrics
