"""Logs are JSON lines carrying the request id the response returned."""

from __future__ import annotations

import json
import time

import httpx

from tests.conftest import ServerProcess


def test_access_log_is_json_with_the_request_id(vl_server: ServerProcess) -> None:
    resp = httpx.post(
        vl_server.url + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        timeout=60,
    )
    rid = resp.headers["x-request-id"]
    deadline = time.monotonic() + 10
    while True:
        mine = [line for line in vl_server.logs().splitlines() if rid in line]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    records = [json.loads(line) for line in mine]  # every line is one JSON object
    access = [r for r in records if r.get("logger") == "inkshadow.access"]
    assert access and access[0]["request_id"] == rid
    assert access[0]["route"] == "/v1/chat/completions" and access[0]["status"] == 200
    # A client-chosen id is kept (for tracing across services), a hostile one replaced.
    mine = httpx.get(vl_server.url + "/v1/models", headers={"x-request-id": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"
    forged = "<script>" + "y" * 80  # markup, and longer than 64 characters
    hostile = httpx.get(vl_server.url + "/v1/models", headers={"x-request-id": forged})
    assert hostile.headers["x-request-id"] != forged
