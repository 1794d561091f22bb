"""Migrations on SQLite and PostgreSQL: upgrade from empty, the start-up check, refusal of
a schema newer than the code, and the `db` commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from inkshadow.cli_jobs import db_current_command, db_upgrade_command
from inkshadow.jobs.runtime import JobsRuntime
from inkshadow.settings import Settings
from inkshadow.store import Store, open_store
from inkshadow.store.migrate import (
    MIGRATIONS,
    SchemaState,
    SchemaTooNew,
    check_schema,
    current_revision,
    head_revision,
    upgrade,
)
from tests.services import Postgres, postgres

__all__ = ["postgres"]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty(request: pytest.FixtureRequest, tmp_path: Path, postgres: Postgres) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite'}"
        return
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


def _stamp(store: Store, revision: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_upgrade_check_and_refuse_newer(empty: str) -> None:
    store = open_store(url=empty)
    try:
        assert current_revision(store) is None
        assert check_schema(store) is SchemaState.BEHIND
        assert check_schema(store, migrate=True) is SchemaState.CURRENT
        assert current_revision(store) == head_revision()
        assert upgrade(store) == head_revision()  # idempotent
        _stamp(store, "9999_from_the_future")
        with pytest.raises(SchemaTooNew, match="newer than this inkshadow knows"):
            check_schema(store, migrate=True)
        with pytest.raises(SchemaTooNew):
            JobsRuntime(Settings(database_url=empty), store).check()
    finally:
        store.dispose()


def test_sqlite_file_is_not_created_by_the_check(tmp_path: Path) -> None:
    path = tmp_path / "none" / "inkshadow.db"
    settings = Settings(data_dir=path.parent)
    store = open_store(settings)
    assert check_schema(store) is SchemaState.BEHIND
    assert not path.exists()
    assert check_schema(store, migrate=True) is SchemaState.CURRENT
    assert path.exists()
    store.dispose()


def test_db_commands(empty: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = typer.Typer()
    db = typer.Typer()
    db.command("upgrade")(db_upgrade_command)
    db.command("current")(db_current_command)
    app.add_typer(db, name="db")
    monkeypatch.setenv("INKSHADOW_DATABASE_URL", empty)
    runner = CliRunner()
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0 and "current: (empty)" in result.output
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0 and f"database schema at {head_revision()}" in result.output
    result = runner.invoke(app, ["db", "current"])
    assert f"current: {head_revision()}" in result.output


def test_migrations_ship_inside_the_package() -> None:
    import inkshadow

    package = Path(inkshadow.__file__).parent
    assert MIGRATIONS.is_relative_to(package)
    assert (MIGRATIONS / "env.py").is_file() and (MIGRATIONS / "script.py.mako").is_file()
    assert list((MIGRATIONS / "versions").glob("0001_*.py"))
