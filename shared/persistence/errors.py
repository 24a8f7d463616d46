"""Database failures, split into 'try again later' and 'this will never work'.

The split follows one question: is the failure about the database (down, starting, failing
over, out of connections, a lost race with another transaction) or about the statement and
its data (a constraint, a value out of range, a bug in the SQL)? The first kind is transient:
the same event succeeds once the database is back, so the runtime retries it with backoff
and a good event is never dead-lettered because of an outage. The second kind is permanent:
retrying gives the same answer, so the event goes to the DLQ with the reason.

PostgreSQL reports the kind in the SQLSTATE (its first two characters are the class); asyncpg
puts it on every server error as `sqlstate`, and SQLAlchemy's asyncpg adapter copies it onto
the `DBAPIError.orig` it raises. SQLite reports an extended result code (`sqlite_errorcode`,
Python 3.11+), whose low byte is the primary code. Errors without either (the socket refused,
the pool empty, the driver's "connection is closed") are classified by their class.

The tables below are the one place where this is decided; docs/reliability.md lists them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Final

from sqlalchemy import exc as sa_exc

from shared.errors import TransientError


class Disposition(StrEnum):
    TRANSIENT = "transient"  # retry with backoff until it works
    PERMANENT = "permanent"  # the DLQ, with the reason


TRANSIENT: Final = Disposition.TRANSIENT
PERMANENT: Final = Disposition.PERMANENT

# -- PostgreSQL: SQLSTATE classes (first two characters) ------------------------------------
# Every class PostgreSQL defines (Appendix A of its manual). Permanent ones name something wrong
# with the statement or its data, which no amount of waiting fixes; transient ones the state
# of the server or the connection. A code listed further down overrides its class. A class
# not listed at all (a newer server's) is permanent: the DLQ keeps the event and its reason.
SQLSTATE_CLASSES: Final[dict[str, tuple[Disposition, str]]] = {
    "00": (PERMANENT, "successful completion: never raised as an error"),
    "01": (PERMANENT, "warning: never raised as an error"),
    "02": (PERMANENT, "no data: never raised as an error"),
    "03": (PERMANENT, "SQL statement not yet complete"),
    "08": (TRANSIENT, "connection exception: the connection failed or was lost"),
    "09": (PERMANENT, "triggered action exception"),
    "0A": (PERMANENT, "feature not supported"),
    "0B": (PERMANENT, "invalid transaction initiation"),
    "0F": (PERMANENT, "locator exception"),
    "0L": (PERMANENT, "invalid grantor"),
    "0P": (PERMANENT, "invalid role specification"),
    "0Z": (PERMANENT, "diagnostics exception"),
    "20": (PERMANENT, "case not found"),
    "21": (PERMANENT, "cardinality violation"),
    "22": (PERMANENT, "data exception: a value the column or function rejects"),
    "23": (PERMANENT, "integrity constraint violation: the row conflicts with a constraint"),
    "24": (PERMANENT, "invalid cursor state"),
    "25": (PERMANENT, "invalid transaction state: a bug in how the transaction is used"),
    "26": (PERMANENT, "invalid SQL statement name"),
    "27": (PERMANENT, "triggered data change violation"),
    # Authorization failures happen at connect time, before any event data is involved: a
    # rotated password or a role not yet created is the deployment's to fix, and every event
    # would fail the same way, so they wait rather than fill the DLQ.
    "28": (TRANSIENT, "invalid authorization: credentials rejected at connect time"),
    "2B": (PERMANENT, "dependent privilege descriptors still exist"),
    "2D": (PERMANENT, "invalid transaction termination"),
    "2F": (PERMANENT, "SQL routine exception"),
    "34": (PERMANENT, "invalid cursor name"),
    "38": (PERMANENT, "external routine exception"),
    "39": (PERMANENT, "external routine invocation exception"),
    "3B": (PERMANENT, "savepoint exception"),
    "3D": (TRANSIENT, "invalid catalog name: the database does not exist (yet) at connect"),
    "3F": (PERMANENT, "invalid schema name"),
    "40": (TRANSIENT, "transaction rollback: lost a race with another transaction"),
    "42": (PERMANENT, "syntax error or access rule violation: the SQL or the schema is wrong"),
    "44": (PERMANENT, "WITH CHECK OPTION violation"),
    "53": (TRANSIENT, "insufficient resources: disk, memory or connection slots exhausted"),
    "54": (PERMANENT, "program limit exceeded: the statement itself is too large or complex"),
    "55": (PERMANENT, "object not in prerequisite state"),
    "57": (TRANSIENT, "operator intervention: shutdown, restart, recovery, cancelled query"),
    "58": (TRANSIENT, "system error: I/O failure outside PostgreSQL"),
    "72": (TRANSIENT, "snapshot too old: a new transaction takes a new snapshot"),
    "F0": (PERMANENT, "configuration file error"),
    "HV": (PERMANENT, "foreign data wrapper error"),
    "P0": (PERMANENT, "PL/pgSQL error: a trigger or function raised on this data"),
    "XX": (PERMANENT, "internal error: corruption or a server bug; retrying would loop"),
}

# -- PostgreSQL: single codes that differ from their class ------------------------------------
SQLSTATE_CODES: Final[dict[str, tuple[Disposition, str]]] = {
    # Failover: the connection lands on a standby, or on a primary being demoted, and every
    # write fails until it reconnects to the new primary.
    "25006": (TRANSIENT, "read_only_sql_transaction: connected to a standby (failover)"),
    # The server closed an idle or long transaction; a fresh attempt starts a new one.
    "25P03": (TRANSIENT, "idle_in_transaction_session_timeout"),
    "25P04": (TRANSIENT, "transaction_timeout"),
    # A deferred constraint failing at commit is the data's fault, unlike the rest of 40.
    "40002": (PERMANENT, "transaction_integrity_constraint_violation"),
    "40001": (TRANSIENT, "serialization_failure: retry the transaction"),
    "40P01": (TRANSIENT, "deadlock_detected: the other transaction won; retry"),
    "40003": (TRANSIENT, "statement_completion_unknown: the connection broke mid-commit"),
    "53300": (TRANSIENT, "too_many_connections: every connection slot is taken"),
    "55006": (TRANSIENT, "object_in_use: another session holds the object"),
    "55P03": (TRANSIENT, "lock_not_available: lock_timeout expired"),
    "57014": (TRANSIENT, "query_canceled: statement_timeout or an operator's cancel"),
    "57P01": (TRANSIENT, "admin_shutdown: the server is shutting down"),
    "57P02": (TRANSIENT, "crash_shutdown: another backend crashed; the server restarts"),
    "57P03": (TRANSIENT, "cannot_connect_now: the server is starting up or in recovery"),
    "57P04": (TRANSIENT, "database_dropped: the database is being replaced"),
    "57P05": (TRANSIENT, "idle_session_timeout: the server closed an idle connection"),
    # A malformed SQLSTATE from a proxy in between is treated like the connection failure it
    # most likely is; a real server never sends these.
    "08P01": (TRANSIENT, "protocol_violation: the stream between client and server broke"),
}

# -- SQLite: primary result codes (the low byte of the extended code) -------------------------
# Any other code is PERMANENT: SQLITE_ERROR (no such table, a syntax error), SQLITE_CONSTRAINT,
# SQLITE_TOOBIG, SQLITE_MISMATCH, SQLITE_CORRUPT, SQLITE_NOTADB...
SQLITE_CODES: Final[dict[int, tuple[Disposition, str]]] = {
    5: (TRANSIENT, "SQLITE_BUSY: another connection holds the write lock (database is locked)"),
    6: (TRANSIENT, "SQLITE_LOCKED: a table is locked by another statement"),
    7: (TRANSIENT, "SQLITE_NOMEM: out of memory"),
    9: (TRANSIENT, "SQLITE_INTERRUPT: the statement was interrupted"),
    10: (TRANSIENT, "SQLITE_IOERR: disk I/O error"),
    13: (TRANSIENT, "SQLITE_FULL: the disk is full"),
    14: (TRANSIENT, "SQLITE_CANTOPEN: the file cannot be opened (volume not mounted yet)"),
    15: (TRANSIENT, "SQLITE_PROTOCOL: the WAL locking protocol lost a race"),
}
# Older drivers and SQLAlchemy's own re-raised errors carry only the message.
SQLITE_TRANSIENT_MESSAGES: Final = (
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "database or disk is full",
    "unable to open database file",
    "no active connection",
    "connection closed",
)

# -- Driver and pool errors without a code -------------------------------------------------
# By class, checked when no SQLSTATE or SQLite code is found anywhere in the chain.
TRANSIENT_DRIVER_ERRORS: Final[tuple[type[BaseException], ...]] = (
    OSError,  # connection refused / reset, DNS, unreachable network (ConnectionError too)
    TimeoutError,  # connect or command timeout (asyncio.TimeoutError is the same class)
    sa_exc.TimeoutError,  # the pool had no free connection within pool_timeout
    sa_exc.DisconnectionError,  # the pool found the connection dead
    sa_exc.InterfaceError,  # the driver lost its connection ("connection is closed")
    sa_exc.OperationalError,  # PEP 249: "not necessarily under the programmer's control"
)


def _asyncpg_transient_classes() -> tuple[type[BaseException], ...]:
    """asyncpg's client-side errors that mean 'the connection is gone', not 'bad SQL'."""
    try:
        import asyncpg
    except ImportError:  # SQLite-only deployments need not install it
        return ()
    return (
        asyncpg.exceptions.InterfaceError,  # "connection is closed", pool closing
        asyncpg.exceptions.ConnectionDoesNotExistError,  # closed mid-operation (08003)
        # After a migration the server's plans no longer match the cached statements;
        # SQLAlchemy drops its cache on this error, so the next attempt works.
        asyncpg.exceptions.OutdatedSchemaCacheError,
    )


ASYNCPG_TRANSIENT_ERRORS: Final = _asyncpg_transient_classes()


class DatabaseUnavailable(TransientError):
    """The database could not be reached, is not accepting this work now, or lost a race.

    Retry with backoff. `sqlstate` is PostgreSQL's code when there was one.
    """

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The error, what it wraps (`.orig`) and what caused it, outermost first, each once."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 16:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        for nxt in (orig, current.__cause__, current.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def sqlstate_of(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE anywhere in the chain (asyncpg, SQLAlchemy's adapter, psycopg)."""
    for err in _chain(exc):
        for attr in ("sqlstate", "pgcode"):
            code = getattr(err, attr, None)
            if isinstance(code, str) and len(code) == 5:
                return code.upper()
    return None


def sqlite_code_of(exc: BaseException) -> int | None:
    """SQLite's extended result code anywhere in the chain."""
    for err in _chain(exc):
        code = getattr(err, "sqlite_errorcode", None)
        if isinstance(err, sqlite3.Error) and isinstance(code, int):
            return code
    return None


def classify_sqlstate(sqlstate: str) -> tuple[Disposition, str]:
    """A SQLSTATE's disposition and why: its own entry, else its class's, else permanent."""
    code = sqlstate.upper()
    if code in SQLSTATE_CODES:
        return SQLSTATE_CODES[code]
    if code[:2] in SQLSTATE_CLASSES:
        return SQLSTATE_CLASSES[code[:2]]
    return PERMANENT, f"unknown class {code[:2]}: assumed the statement's or the data's"


def classify_sqlite(code: int) -> tuple[Disposition, str]:
    return SQLITE_CODES.get(code & 0xFF, (PERMANENT, f"SQLite result code {code}"))


def classify(exc: BaseException) -> tuple[Disposition, str] | None:
    """How a failure of a database call is handled, and why; None if it is no database error.

    Order: a SQLSTATE decides; else a SQLite code; else the driver's message (SQLite) or its
    class (connection lost, pool timeout, socket errors); else a DBAPI error is permanent.
    """
    if isinstance(exc, DatabaseUnavailable):
        return TRANSIENT, str(exc)
    sqlstate = sqlstate_of(exc)
    if sqlstate is not None:
        return classify_sqlstate(sqlstate)
    sqlite_code = sqlite_code_of(exc)
    if sqlite_code is not None:
        return classify_sqlite(sqlite_code)
    chain = list(_chain(exc))
    if any(isinstance(e, sqlite3.Error) for e in chain):
        text = " ".join(str(e).lower() for e in chain)
        if any(m in text for m in SQLITE_TRANSIENT_MESSAGES):
            return TRANSIENT, "SQLite: " + next(m for m in SQLITE_TRANSIENT_MESSAGES if m in text)
        return PERMANENT, "SQLite error without a transient code"
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return TRANSIENT, "the connection was invalidated (lost)"
    for err in chain:
        if isinstance(err, TRANSIENT_DRIVER_ERRORS + ASYNCPG_TRANSIENT_ERRORS):
            return TRANSIENT, f"{type(err).__name__}: the connection or pool failed"
    if isinstance(exc, sa_exc.DBAPIError):
        return PERMANENT, "database error without a transient code"
    return None


def is_transient(exc: BaseException) -> bool:
    verdict = classify(exc)
    return verdict is not None and verdict[0] is TRANSIENT


def _describe(exc: BaseException) -> str:
    """The driver's own first line: codes and server messages, no bound values
    (engines use hide_parameters), so it may appear in logs and DLQ headers."""
    root = getattr(exc, "orig", None) or exc
    text = str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__
    return f"{type(root).__name__}: {text[:300]}"


@asynccontextmanager
async def translate_db_errors() -> AsyncIterator[None]:
    """Turn transient failures into `DatabaseUnavailable`; permanent ones surface as they are."""
    try:
        yield
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        verdict = classify(exc)
        if verdict is None or verdict[0] is PERMANENT:
            raise
        sqlstate = sqlstate_of(exc)
        code = f" [{sqlstate}]" if sqlstate else ""
        raise DatabaseUnavailable(
            f"database unavailable{code} ({verdict[1]}): {_describe(exc)}", sqlstate=sqlstate
        ) from exc
