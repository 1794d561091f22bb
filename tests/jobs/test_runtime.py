"""The server's start-up schema check when the database is down at start: the API starts,
and the check runs once the database answers — a schema newer than this code then turns
job routes off instead of letting them write to it."""

from __future__ import annotations

import asyncio

import psycopg

from inkshadow.jobs.runtime import JobsRuntime
from inkshadow.settings import Settings
from tests.services import ThrowawayPostgres


async def test_late_check_refuses_a_newer_schema(own_postgres: ThrowawayPostgres) -> None:
    server = own_postgres.server()
    name = server.create_database()
    url = server.url(name)
    own_postgres.stop("immediate")
    runtime = JobsRuntime(Settings(database_url=url), stats_interval_s=0.2)
    try:
        await runtime.start()  # the database is down: no check yet, no failure either
        assert runtime.refusal is None
        await asyncio.to_thread(own_postgres.start)
        with psycopg.connect(server.url(name, driver="postgresql"), autocommit=True) as conn:
            conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
            conn.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
        for _ in range(100):
            if runtime.refusal is not None:
                break
            await asyncio.sleep(0.1)
        assert runtime.refusal is not None and "newer than this inkshadow knows" in runtime.refusal
    finally:
        await runtime.stop()
