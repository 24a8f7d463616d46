"""Database failures, split into 'try again later' and 'this will never work'."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import exc as sa_exc

from shared.errors import TransientError


class DatabaseUnavailable(TransientError):
    """The database could not be reached or dropped the connection; retry with backoff."""


@asynccontextmanager
async def translate_db_errors() -> AsyncIterator[None]:
    """Turn connectivity failures into `DatabaseUnavailable`; let real bugs surface as they are."""
    try:
        yield
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc.orig or exc}") from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailable(f"database connection lost: {exc.orig or exc}") from exc
        raise
    except (OSError, TimeoutError) as exc:
        raise DatabaseUnavailable(f"database unreachable: {exc}") from exc
