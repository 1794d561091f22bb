"""The proxy itself: pass-through, streaming, own endpoints, caps, error shapes."""

from __future__ import annotations

import json
import time

import httpx

from tests.gateway.conftest import Cluster


def _is_openai_error(body: dict[str, object]) -> bool:
    err = body.get("error")
    return isinstance(err, dict) and set(err) == {"message", "type", "param", "code"}


def test_passthrough_request_id_and_own_endpoints(cluster: Cluster) -> None:
    up = cluster.upstream("a")
    gw = cluster.gateway([up])
    with httpx.Client(base_url=gw.url, timeout=10) as c:
        r = c.post("/v1/jobs?limit=3", content=b'{"x":1}', headers={"x-request-id": "abc-123"})
        assert r.status_code == 200
        body = r.json()
        assert body["path"] == "/v1/jobs" and body["query"] == "limit=3"
        assert body["method"] == "POST" and body["body_len"] == 7
        assert body["headers"]["x-request-id"] == "abc-123"
        assert r.headers["x-request-id"] == "abc-123"
        generated = c.get("/v1/models").headers["x-request-id"]
        assert generated and generated != "abc-123"
        for path in ("/health", "/healthz", "/ready"):
            assert c.get(path).status_code == 200
        metrics = c.get("/metrics").text
        for name in (
            "inkshadow_gateway_added_latency_seconds_bucket",
            "inkshadow_gateway_upstream_in_flight",
            "inkshadow_gateway_upstream_latency_seconds_bucket",
            "inkshadow_gateway_upstream_errors_total",
            "inkshadow_gateway_upstream_ejections_total",
            "inkshadow_gateway_upstream_retries_total",
            "inkshadow_gateway_rejected_total",
            'inkshadow_gateway_policy_decisions_total{outcome="least_outstanding"',
            'inkshadow_gateway_requests_total{code="2xx"} 2.0',
        ):
            assert name in metrics, name


def test_sse_passes_through_chunk_by_chunk(cluster: Cluster) -> None:
    up = cluster.upstream("a")
    gw = cluster.gateway([up])
    payload = {"stream": True, "n_chunks": 5, "chunk_ms": 200}
    arrivals: list[float] = []
    start = time.monotonic()
    with httpx.stream("POST", gw.url + "/v1/chat/completions", json=payload, timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic() - start)
    assert len(arrivals) == 6  # 5 events and [DONE]
    assert arrivals[-1] - arrivals[0] > 0.6  # spread over the stream, not one buffered lump


def test_caps_and_error_shapes(cluster: Cluster) -> None:
    up = cluster.upstream("a")
    gw = cluster.gateway(
        [up], env={"INKSHADOW_MAX_BODY_BYTES": "4096", "INKSHADOW_GATEWAY_MAX_HEADER_BYTES": "2048"}
    )
    with httpx.Client(base_url=gw.url, timeout=10) as c:
        r = c.post("/v1/files", content=b"x" * 5000)
        assert r.status_code == 413 and _is_openai_error(r.json())
        r = c.get("/v1/models", headers={"x-big": "y" * 3000})
        assert r.status_code == 431 and _is_openai_error(r.json())
    up.stop()
    with httpx.Client(base_url=gw.url, timeout=10) as c:
        r = c.get("/v1/models")
        assert r.status_code in (502, 503) and _is_openai_error(r.json())
        text = json.dumps(r.json())
        assert "127.0.0.1" not in text and str(up.port) not in text  # no internals


def test_upstreams_from_dns(cluster: Cluster) -> None:
    up = cluster.upstream("a")
    # localhost may also resolve to ::1, where nothing listens: that one never gets ready.
    gw = cluster.gateway([], args=["--upstream-dns", f"localhost:{up.port}"])
    with httpx.Client(base_url=gw.url, timeout=10) as c:
        assert all(c.get("/v1/models").json()["upstream"] == "a" for _ in range(5))


def test_large_bodies_stream_through(cluster: Cluster) -> None:
    up = cluster.upstream("a")
    gw = cluster.gateway([up])
    part = b"v" * (1024 * 1024)
    seen_before_end: list[int] = []

    def body():  # type: ignore[no-untyped-def]
        for i in range(4):
            if i == 3:  # the upstream already has the request before the client is done
                seen_before_end.append(up.stats()["started"])
            yield part

    headers = {"content-length": str(4 * len(part)), "content-type": "application/octet-stream"}
    r = httpx.post(gw.url + "/v1/files", content=body(), headers=headers, timeout=30)
    assert r.status_code == 200 and r.json()["body_len"] == 4 * len(part)
    assert seen_before_end == [1]
