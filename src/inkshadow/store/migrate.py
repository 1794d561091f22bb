"""Schema migrations (Alembic, shipped inside the package so an installed wheel can run
them) and the start-up check that refuses a schema newer than this code."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from inkshadow.errors import InkshadowError
from inkshadow.store.engine import Store
from inkshadow.store.errors import db_errors

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_ID = 0x1_4E_5_5AD0  # one upgrade at a time when many processes start with --migrate


class SchemaTooNew(InkshadowError):
    code = "schema_too_new"


class SchemaState(StrEnum):
    CURRENT = "current"
    BEHIND = "behind"  # older, or empty: `inkshadow db upgrade` brings it to head


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations shipped")
    return head


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}


def current_revision(store: Store) -> str | None:
    with db_errors(), store.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store, revision: str = "head") -> str:
    """Bring the schema to `revision`; returns the revision now current."""
    check_not_newer(current_revision(store))
    with db_errors(), store.engine.begin() as conn:
        if store.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        command.upgrade(_config(conn), revision)
    now = current_revision(store)
    return now or ""


def check_not_newer(revision: str | None) -> None:
    if revision is not None and revision not in known_revisions():
        raise SchemaTooNew(
            f"the database schema ({revision}) is newer than this inkshadow knows "
            f"(head {head_revision()}); upgrade inkshadow before starting it on this database"
        )


def check_schema(store: Store, *, migrate: bool = False) -> SchemaState:
    """Refuse (SchemaTooNew) a schema newer than this code; upgrade an older one when asked.

    A SQLite file that does not exist yet is not created here: an idle server leaves no
    database behind."""
    database = store.url.database
    if store.dialect == "sqlite" and database and not migrate and not Path(database).exists():
        return SchemaState.BEHIND
    revision = current_revision(store)
    check_not_newer(revision)
    if revision == head_revision():
        return SchemaState.CURRENT
    if migrate:
        upgrade(store)
        return SchemaState.CURRENT
    return SchemaState.BEHIND
