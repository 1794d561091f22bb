"""The jobs API over HTTP, with real server and worker processes on PostgreSQL: the job
lifecycle per tenant, concurrent Idempotency-Key retries, queue metrics, signed webhooks,
and a PostgreSQL stop/restart (503 + Retry-After while down, no accepted job lost)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from inkshadow.jobs.webhook import SIGNATURE_HEADER, verify
from tests.conftest import REPO, free_port
from tests.jobs.procs import WorkerPool
from tests.services import Postgres, ThrowawayPostgres

BODY = {"video": "https://example.com/v.mp4", "task": "temporal", "query": "a dog", "end": 30}
KEYS = {"a": "key-a-0123456789", "b": "key-b-0123456789"}


class Api:
    def __init__(self, url: str, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full = {**os.environ, "INKSHADOW_DATABASE_URL": url, "INKSHADOW_DATA_DIR": str(tmp),
                "INKSHADOW_API_KEYS": ",".join(KEYS.values()), **(env or {})}  # fmt: skip
        self.log = tmp / f"api-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.jobs.apiproc", str(self.port)],
            cwd=REPO, env=full, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text()[-3000:])
            time.sleep(0.1)

    def call(self, method: str, path: str, who: str = "a", **kw: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {KEYS[who]}", **kw.pop("headers", {})}
        return httpx.request(method, self.base + path, headers=headers, timeout=10, **kw)

    def wait(self, job_id: str, limit_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + limit_s
        while True:
            body: dict[str, Any] = self.call("GET", f"/v1/jobs/{job_id}").json()
            if body["status"] in ("succeeded", "failed", "cancelled"):
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@pytest.fixture
def pg_url(postgres: Postgres) -> Iterator[str]:
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture
def api(pg_url: str, tmp_path: Path) -> Iterator[Api]:
    server = Api(pg_url, tmp_path)
    yield server
    server.stop()


def test_lifecycle_tenants_and_metrics(api: Api, pg_url: str, tmp_path: Path) -> None:
    created = api.call("POST", "/v1/jobs", json=BODY)
    assert created.status_code == 202, created.text
    job = created.json()
    assert job["status"] == "queued" and created.headers["location"] == f"/v1/jobs/{job['id']}"
    metrics = httpx.get(api.base + "/metrics").text
    assert "video_processing_queue_length" in metrics
    assert "inkshadow_video_backlog_seconds" in metrics
    assert api.call("GET", f"/v1/jobs/{job['id']}/result").status_code == 409
    assert api.call("GET", f"/v1/jobs/{job['id']}", who="b").status_code == 404
    assert api.call("POST", "/v1/jobs", json={**BODY, "images": ["x"]}).status_code == 400
    pool = WorkerPool({"INKSHADOW_DATABASE_URL": pg_url}, tmp_path)
    pool.start(1)
    try:
        done = api.wait(job["id"])
    finally:
        pool.stop()
    assert done["status"] == "succeeded" and done["progress"] == 1.0
    assert done["chunks"] == {"done": 1, "total": 1} and done["error"] is None
    assert done["created_at"] <= done["started_at"] <= done["finished_at"]
    result = api.call("GET", f"/v1/jobs/{job['id']}/result").json()
    assert result["n"] == 1
    assert api.call("DELETE", f"/v1/jobs/{job['id']}").json()["status"] == "succeeded"
    queued = api.call("POST", "/v1/jobs", json=BODY).json()
    assert api.call("DELETE", f"/v1/jobs/{queued['id']}").json()["status"] == "cancelled"
    page = api.call("GET", "/v1/jobs", params={"limit": 1}).json()
    assert page["has_more"] and page["data"][0]["id"] == queued["id"]
    rest = api.call("GET", "/v1/jobs", params={"after": page["next_cursor"]}).json()
    assert [j["id"] for j in rest["data"]] == [job["id"]] and not rest["has_more"]
    assert api.call("GET", "/v1/jobs", who="b").json()["data"] == []


def test_concurrent_posts_with_one_idempotency_key(api: Api) -> None:
    ids: list[str] = []
    statuses: list[int] = []
    barrier = threading.Barrier(16)

    def post() -> None:
        barrier.wait()
        r = api.call("POST", "/v1/jobs", json=BODY, headers={"idempotency-key": "retry-1"})
        statuses.append(r.status_code)
        ids.append(r.json()["id"])

    threads = [threading.Thread(target=post) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [202] * 16 and len(set(ids)) == 1
    assert len(api.call("GET", "/v1/jobs").json()["data"]) == 1
    changed = api.call("POST", "/v1/jobs", json={**BODY, "query": "a cat"},
                       headers={"idempotency-key": "retry-1"})  # fmt: skip
    assert changed.status_code == 422
    other = api.call("POST", "/v1/jobs", json=BODY, who="b", headers={"idempotency-key": "retry-1"})
    assert other.status_code == 202 and other.json()["id"] != ids[0]


class _Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[bytes, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.got.append((body, self.headers.get(SIGNATURE_HEADER, "")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return None


def test_signed_webhook_on_job_end(pg_url: str, tmp_path: Path) -> None:
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    secret = "s3cret-s3cret-s3cret"
    api = Api(pg_url, tmp_path)
    env = {"INKSHADOW_DATABASE_URL": pg_url, "INKSHADOW_FETCH_ALLOW_HOSTS": "127.0.0.1"}
    pool = WorkerPool(env, tmp_path)
    pool.start(1)
    try:
        refused = api.call("POST", "/v1/jobs", json={**BODY, "webhook_url": "ftp://x/"})
        assert refused.status_code == 400
        with_hook = {**BODY, "webhook_url": hook, "webhook_secret": secret}
        job = api.call("POST", "/v1/jobs", json=with_hook).json()
        assert api.wait(job["id"])["status"] == "succeeded"
        deadline = time.monotonic() + 10
        while not _Receiver.got and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pool.stop()
        api.stop()
        receiver.shutdown()
    body, signature = _Receiver.got[0]
    assert verify(secret, body, signature) and not verify("other-secret-123", body, signature)
    event = json.loads(body)
    assert event["type"] == "job.succeeded" and event["data"]["id"] == job["id"]


@pytest.mark.timeout(180)
def test_postgres_restart_mid_run(own_postgres: ThrowawayPostgres, tmp_path: Path) -> None:
    server = own_postgres.server()
    url = server.url(server.create_database())
    api = Api(url, tmp_path)
    pool = WorkerPool({"INKSHADOW_DATABASE_URL": url, "INKSHADOW_JOB_LEASE_S": "2"}, tmp_path)
    pool.start(2)
    accepted: list[str] = []
    refused: list[httpx.Response] = []
    try:
        for _ in range(20):
            accepted.append(api.call("POST", "/v1/jobs", json=BODY).json()["id"])
        own_postgres.stop("immediate")  # a crash, not a clean shutdown
        for _ in range(10):
            r = api.call("POST", "/v1/jobs", json=BODY)
            if r.status_code == 202:
                accepted.append(r.json()["id"])
            else:
                refused.append(r)
        own_postgres.start()
        for _ in range(20):
            r = api.call("POST", "/v1/jobs", json=BODY)
            assert r.status_code == 202, r.text
            accepted.append(r.json()["id"])
        finished = [api.wait(job_id, limit_s=90)["status"] for job_id in accepted]
    finally:
        pool.stop()
        api.stop()
    assert len(refused) == 10
    assert all(r.status_code == 503 and int(r.headers["retry-after"]) >= 1 for r in refused)
    assert refused[0].json()["error"]["code"] == "database_unavailable"
    assert finished == ["succeeded"] * len(accepted) and len(accepted) == 40
