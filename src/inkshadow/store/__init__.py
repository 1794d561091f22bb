"""Storage: SQLAlchemy models, the engine/session factory and Alembic migrations."""

from inkshadow.store.engine import Store, database_url, open_store
from inkshadow.store.errors import DatabaseUnavailable, db_errors

__all__ = ["DatabaseUnavailable", "Store", "database_url", "db_errors", "open_store"]
