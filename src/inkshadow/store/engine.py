"""The database handle: an engine and session factory for a SQLite file (the default, under
data_dir) or PostgreSQL (`database_url`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from inkshadow.errors import InvalidRequest
from inkshadow.settings import Settings
from inkshadow.store.errors import db_errors

SQLITE_FILE = "inkshadow.db"
CONNECT_TIMEOUT_S = 3  # fail fast when the server is down: callers answer 503, not hang


def database_url(settings: Settings) -> URL:
    if settings.database_url:
        try:
            return make_url(settings.database_url)
        except Exception as exc:  # the URL text may hold a password: never echo it
            raise InvalidRequest("database_url is not a valid SQLAlchemy URL") from exc
    return make_url(f"sqlite:///{(settings.data_dir / SQLITE_FILE).resolve()}")


@dataclass(frozen=True)
class Store:
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def url(self) -> URL:
        return self.engine.url

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction; commits on success. On SQLite it starts with BEGIN IMMEDIATE, so
        writers queue on the database lock up front instead of failing mid-transaction."""
        with db_errors(), self.sessions.begin() as session:
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection where each statement commits by itself: one round trip for a
        single-statement transaction (PostgreSQL fast paths)."""
        with db_errors(), self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(
    settings: Settings | None = None,
    *,
    url: str | URL | None = None,
    pool_size: int = 5,
    pre_ping: bool = True,
) -> Store:
    """Build (without connecting) the store for `url`, else for the settings.

    pre_ping: test pooled connections before use (a round trip each). Workers turn it off:
    after a server restart their first statement fails, the pool is discarded, and they
    retry anyway; the API keeps it so no client sees that first failure."""
    if url is None:
        if settings is None:
            raise ValueError("open_store needs settings or a url")
        url = database_url(settings)
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    elif parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(
            parsed,
            pool_pre_ping=pre_ping,  # a restarted server leaves dead pooled connections behind
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=CONNECT_TIMEOUT_S,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        )
    else:
        raise InvalidRequest("database_url must be a sqlite:// or postgresql:// URL")
    return Store(engine, sessionmaker(engine, expire_on_commit=False))


def _sqlite_engine(url: URL) -> Engine:
    path = url.database
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "do_connect")
    def _mkdir(*_: Any) -> None:
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _: Any) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE below is what runs.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
