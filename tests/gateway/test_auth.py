"""API keys and per-key limits at the gateway; keys never reach the logs."""

from __future__ import annotations

import time
import uuid

import httpx

from inkshadow.auth import hash_key
from tests.gateway.conftest import Cluster

CANARY = "sk-canary-" + uuid.uuid4().hex
ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("GET", "/v1/models"),
    ("POST", "/generate"),
    ("POST", "/process"),
    ("POST", "/v1/video/analyze"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/job-1"),
    ("POST", "/v1/files"),
    ("GET", "/anything/else"),
]


def test_every_route_but_health_and_metrics_needs_a_key(cluster: Cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(hash_key("sk-from-file") + "\n")
    up = cluster.upstream("a")
    gw = cluster.gateway(
        [up], env={"INKSHADOW_API_KEYS": CANARY, "INKSHADOW_API_KEYS_FILE": str(keys_file)}
    )
    with httpx.Client(base_url=gw.url, timeout=10) as c:
        for method, path in ROUTES:
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": CANARY}):
                r = c.request(method, path, headers=headers)
                assert r.status_code == 401, (method, path, headers)
                err = r.json()["error"]
                assert err["type"] == "authentication_error" and CANARY not in r.text
            ok = c.request(method, path, headers={"authorization": f"Bearer {CANARY}"})
            assert ok.status_code == 200, (method, path)
            # The key travels on to the replica (which may check it too).
            assert ok.json()["headers"]["authorization"] == f"Bearer {CANARY}"
        assert c.get("/v1/models", headers={"authorization": "Bearer sk-from-file"}).is_success
        for path in ("/health", "/healthz", "/ready", "/metrics"):
            assert c.get(path).status_code == 200
        c.get(f"/v1/models?api_key={CANARY}")  # even in a query string
    gw.signal(15)
    gw.proc.wait(10)
    logs = gw.logs()
    assert '"key_id":"key-' in logs  # requests are attributed, by key id only
    assert CANARY not in logs and "sk-from-file" not in logs


def test_per_key_rpm_in_memory(cluster: Cluster) -> None:
    up = cluster.upstream("a")
    gw = cluster.gateway(
        [up], env={"INKSHADOW_API_KEYS": "k1,k2", "INKSHADOW_GATEWAY_KEY_RPM": "5"}
    )
    with httpx.Client(base_url=gw.url, timeout=10) as c:
        k1 = {"authorization": "Bearer k1"}
        codes = [c.get("/v1/models", headers=k1).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        limited = c.get("/v1/models", headers=k1)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert c.get("/v1/models", headers={"authorization": "Bearer k2"}).status_code == 200


def test_per_key_rpm_shared_through_redis(cluster: Cluster, redis_url: str) -> None:
    up = cluster.upstream("a")
    key = "k-" + uuid.uuid4().hex  # a fresh budget in a shared Redis
    env = {
        "INKSHADOW_API_KEYS": key,
        "INKSHADOW_GATEWAY_KEY_RPM": "6",
        "INKSHADOW_REDIS_URL": redis_url,
    }
    gws = [cluster.gateway([up], env=env), cluster.gateway([up], env=env)]
    if time.time() % 60 > 55:  # budgets are per clock minute: start inside one
        time.sleep(60 - time.time() % 60 + 0.1)
    accepted = 0
    for i in range(12):
        r = httpx.get(gws[i % 2].url + "/v1/models", headers={"authorization": f"Bearer {key}"})
        if r.status_code == 429:
            break
        assert r.status_code == 200
        accepted += 1
    assert accepted == 6  # alone, each gateway would have allowed 6
