"""Real PostgreSQL and Redis for tests: the machine's servers when they answer on
127.0.0.1:5432 / :6379, else throwaway ones started from the installed binaries in a temp
dir on a free port. Each test session works in databases of its own and drops them after.

Import the fixtures into a conftest: `from tests.services import postgres, redis_url`."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key)
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return path


def _version_key(path: str) -> int:
    part = path.split("/")[4]
    return int(part) if part.isdigit() else 0


@dataclass
class Postgres:
    """A reachable server and a superuser to reach it as."""

    host: str
    port: int
    user: str
    created: list[str] = field(default_factory=list)

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres",
            autocommit=True, connect_timeout=3,
        )  # fmt: skip

    def create_database(self, prefix: str = "inkshadow_test") -> str:
        name = f"{prefix}_{secrets.token_hex(4)}"
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self.created:
            self.created.remove(name)


def _force_own() -> bool:
    """INKSHADOW_TEST_OWN_SERVICES=1: ignore the machine's servers (to test that path)."""
    return os.environ.get("INKSHADOW_TEST_OWN_SERVICES") == "1"


def _answering_user(host: str, port: int) -> str | None:
    for user in ("postgres", "root"):
        try:
            with psycopg.connect(
                host=host, port=port, user=user, dbname="postgres", connect_timeout=2
            ):
                return user
        except psycopg.Error:
            continue
    return None


class ThrowawayPostgres:
    """A private cluster (initdb + pg_ctl) that tests may stop and restart at will. initdb
    refuses to run as root, so as root the cluster runs as the `postgres` user."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="inkshadow-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = "postgres"
            pwd.getpwnam(user)  # KeyError: no such user to run the cluster as
            uid = pwd.getpwnam(user).pw_uid
            os.chown(self.dir, uid, pwd.getpwnam(user).pw_gid)
            self._as = ["runuser", "-u", user, "--"]
            self.user = user
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name
        self._run(
            [pg_bin("initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
             "--no-sync", "-E", "UTF8"]
        )  # fmt: skip

    def _run(self, args: list[str]) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200 -c full_page_writes=off"
        )
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-t", "60",
                   "-l", str(self.dir / "log"), "start"])  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def server(self) -> Postgres:
        return Postgres("127.0.0.1", self.port, self.user)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The machine's PostgreSQL when it answers, else a throwaway cluster."""
    user = None if _force_own() else _answering_user("127.0.0.1", 5432)
    cluster: ThrowawayPostgres | None = None
    if user is not None:
        server = Postgres("127.0.0.1", 5432, user)
    else:
        cluster = ThrowawayPostgres()
        cluster.start()
        server = cluster.server()
    try:
        yield server
    finally:
        for name in list(server.created):
            with contextlib.suppress(psycopg.Error):
                server.drop_database(name)
        if cluster is not None:
            cluster.destroy()


@pytest.fixture
def own_postgres() -> Iterator[ThrowawayPostgres]:
    """A private, started cluster: for tests that stop the server (never the shared one)."""
    cluster = ThrowawayPostgres()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The machine's Redis when it answers, else a throwaway redis-server."""
    if not _force_own() and _redis_answers(6379):
        yield "redis://127.0.0.1:6379/15"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not _redis_answers(port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("throwaway redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
