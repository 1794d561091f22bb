"""Alembic environment: migrations run on the connection inkshadow hands in (see
inkshadow.store.migrate), so no alembic.ini or URL lives in the package."""

from __future__ import annotations

from alembic import context

from inkshadow.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
