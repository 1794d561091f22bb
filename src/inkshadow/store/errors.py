"""The one place where database failures become typed errors: an unreachable or restarting
server is a 503 with Retry-After (the client retries; nothing was accepted), never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from inkshadow.errors import ServiceUnavailable

RETRY_AFTER_S = 5.0


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"


def _missing_table(error: sa_exc.DBAPIError) -> bool:
    text = str(error.orig).lower()
    return "no such table" in text or "undefinedtable" in type(error.orig).__name__.lower()


@contextmanager
def db_errors() -> Iterator[None]:
    """Map connection-level failures to DatabaseUnavailable; let everything else through."""
    try:
        yield
    except (sa_exc.ProgrammingError, sa_exc.OperationalError) as error:
        if _missing_table(error):
            raise DatabaseUnavailable(
                "the job database is not migrated: run `inkshadow db upgrade`",
                retry_after=RETRY_AFTER_S,
            ) from error
        if isinstance(error, sa_exc.ProgrammingError):
            raise
        raise DatabaseUnavailable(
            "the job database is unavailable; retry later", retry_after=RETRY_AFTER_S
        ) from error
    except (sa_exc.InterfaceError, sa_exc.TimeoutError) as error:
        raise DatabaseUnavailable(
            "the job database is unavailable; retry later", retry_after=RETRY_AFTER_S
        ) from error
    except sa_exc.DBAPIError as error:
        if error.connection_invalidated:
            raise DatabaseUnavailable(
                "the job database connection was lost; retry later", retry_after=RETRY_AFTER_S
            ) from error
        raise
