"""The database error table: which failures wait for the database, which go to the DLQ.

The errors are built the way the drivers build them: asyncpg's own exception classes, wrapped
by SQLAlchemy's asyncpg adapter and then by `DBAPIError`, as a statement or a connect would
raise them; SQLite's are produced by a real second connection hitting a held write lock.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from shared.errors import is_retriable
from shared.messaging.retry import infra_retriable
from shared.persistence import errors
from shared.persistence.engine import create_engine
from shared.persistence.errors import (
    PERMANENT,
    SQLSTATE_CLASSES,
    SQLSTATE_CODES,
    TRANSIENT,
    DatabaseUnavailable,
    classify,
    classify_sqlstate,
    translate_db_errors,
)

DBAPI = AsyncAdapt_asyncpg_dbapi


def as_sqlalchemy_raises(
    err: Exception, adapted: type[Exception] = DBAPI.Error
) -> sa_exc.DBAPIError:
    """`err` (asyncpg's) as SQLAlchemy hands it to the caller of `session.execute`."""
    wrapped = adapted(str(err), err)
    wrapped.__cause__ = err
    outer = sa_exc.DBAPIError.instance("INSERT ...", None, wrapped, DBAPI.Error)
    outer.__cause__ = wrapped
    return outer


# The codes the runtime meets during outages and failovers, as asyncpg raises them.
TRANSIENT_ASYNCPG = [
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.ReadOnlySQLTransactionError(
        "cannot execute INSERT in a read-only transaction"
    ),
    asyncpg.exceptions.SerializationError("could not serialize access"),
    asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CrashShutdownError("terminating connection because of crash"),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.exceptions.ConnectionFailureError("connection failure"),
    asyncpg.exceptions.ClientCannotConnectError("cannot connect"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
    asyncpg.exceptions.LockNotAvailableError("could not obtain lock"),
    asyncpg.exceptions.IdleSessionTimeoutError("terminating connection due to idle timeout"),
    asyncpg.exceptions.DiskFullError("could not extend file: No space left on device"),
    asyncpg.exceptions.InvalidPasswordError('password authentication failed for user "cairn"'),
]

PERMANENT_ASYNCPG = [
    asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.exceptions.NotNullViolationError("null value in column"),
    asyncpg.exceptions.StringDataRightTruncationError("value too long for type"),
    asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape sequence"),
    asyncpg.exceptions.UndefinedTableError('relation "results" does not exist'),
    asyncpg.exceptions.SyntaxOrAccessError("syntax error"),
    asyncpg.exceptions.TransactionIntegrityConstraintViolationError("deferred constraint"),
    asyncpg.exceptions.DataCorruptedError("invalid page in block"),
]


@pytest.mark.parametrize("err", TRANSIENT_ASYNCPG, ids=lambda e: type(e).__name__)
async def test_outage_codes_become_database_unavailable(err: Exception) -> None:
    raised = as_sqlalchemy_raises(err)
    with pytest.raises(DatabaseUnavailable) as caught:
        async with translate_db_errors():
            raise raised
    assert caught.value.sqlstate == err.sqlstate  # type: ignore[attr-defined]
    assert is_retriable(caught.value)
    assert err.sqlstate in str(caught.value)  # type: ignore[attr-defined]
    # Untranslated (a store that forgot the context manager), the runtime still waits.
    assert infra_retriable(raised)
    assert infra_retriable(err), "and so does asyncpg's error on its own"


@pytest.mark.parametrize("err", PERMANENT_ASYNCPG, ids=lambda e: type(e).__name__)
async def test_data_and_statement_errors_surface_unchanged(err: Exception) -> None:
    raised = as_sqlalchemy_raises(err)
    with pytest.raises(sa_exc.DBAPIError) as caught:
        async with translate_db_errors():
            raise raised
    assert caught.value is raised, "permanent errors are not rewrapped"
    assert not infra_retriable(raised), "the runtime dead-letters the event"
    verdict = classify(raised)
    assert verdict is not None and verdict[0] is PERMANENT


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("08000", TRANSIENT),
        ("08006", TRANSIENT),
        ("08P01", TRANSIENT),
        ("25006", TRANSIENT),
        ("25001", PERMANENT),  # active_sql_transaction: a bug
        ("25P03", TRANSIENT),
        ("28P01", TRANSIENT),
        ("3D000", TRANSIENT),
        ("40001", TRANSIENT),
        ("40P01", TRANSIENT),
        ("40002", PERMANENT),
        ("53300", TRANSIENT),
        ("53100", TRANSIENT),
        ("54000", PERMANENT),
        ("55P03", TRANSIENT),
        ("55000", PERMANENT),
        ("57P01", TRANSIENT),
        ("57P03", TRANSIENT),
        ("57014", TRANSIENT),
        ("58030", TRANSIENT),
        ("22001", PERMANENT),
        ("22P05", PERMANENT),
        ("23505", PERMANENT),
        ("42P01", PERMANENT),
        ("42501", PERMANENT),
        ("XX000", PERMANENT),
        ("0A000", PERMANENT),
        ("p0001", PERMANENT),  # lower case is normalised
    ],
)
def test_sqlstate_table(sqlstate: str, expected: errors.Disposition) -> None:
    disposition, why = classify_sqlstate(sqlstate)
    assert disposition is expected
    assert why


def test_table_is_well_formed() -> None:
    for code in SQLSTATE_CODES:
        assert len(code) == 5 and code == code.upper()
    for klass in SQLSTATE_CLASSES:
        assert len(klass) == 2
    # Every code that overrides its class really differs from it, or says why it is listed.
    assert all(why for _, why in [*SQLSTATE_CODES.values(), *SQLSTATE_CLASSES.values()])


@pytest.mark.parametrize(
    "err",
    [
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        OSError(113, "No route to host"),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        asyncpg.exceptions.OutdatedSchemaCacheError("cached statement plan is invalid"),
        sa_exc.TimeoutError("QueuePool limit of size 5 overflow 5 reached"),
        sa_exc.DisconnectionError("connection invalidated"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_driver_and_pool_errors_without_a_code_are_transient(err: Exception) -> None:
    with pytest.raises(DatabaseUnavailable):
        async with translate_db_errors():
            raise err


async def test_asyncpg_interface_error_wrapped_by_sqlalchemy_is_transient() -> None:
    err = asyncpg.exceptions.InterfaceError("connection is closed")
    with pytest.raises(DatabaseUnavailable):
        async with translate_db_errors():
            raise as_sqlalchemy_raises(err, DBAPI.InterfaceError)


async def test_unrelated_errors_pass_through() -> None:
    with pytest.raises(KeyError):
        async with translate_db_errors():
            raise KeyError("not a database error")
    assert classify(ValueError("x")) is None


async def test_sqlite_database_is_locked_is_transient(tmp_path: Path) -> None:
    """A real lock: another connection holds the write lock and the busy timeout is zero."""
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")  # as the engine sets it: readers never block
    holder.execute("CREATE TABLE t (x INTEGER)")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("PRAGMA busy_timeout=0"))
            holder.execute("BEGIN IMMEDIATE")  # the write lock, as another writer holds it
            with pytest.raises(DatabaseUnavailable) as caught:
                async with translate_db_errors():
                    await conn.execute(text("INSERT INTO t VALUES (1)"))
        assert "SQLITE_BUSY" in str(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await engine.dispose()


async def test_sqlite_statement_errors_are_permanent(tmp_path: Path) -> None:
    """SQLITE_ERROR (no such table) and SQLITE_CONSTRAINT: the statement's fault."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE u (x INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO u VALUES (1)"))
            for statement in ("INSERT INTO missing VALUES (1)", "INSERT INTO u VALUES (1)"):
                with pytest.raises(sa_exc.DBAPIError) as caught:
                    async with translate_db_errors():
                        await conn.execute(text(statement))
                assert not isinstance(caught.value, DatabaseUnavailable)
                assert not infra_retriable(caught.value)
    finally:
        await engine.dispose()


def test_sqlite_codes_from_messages_when_the_code_is_missing() -> None:
    err = sqlite3.OperationalError("database is locked")  # no sqlite_errorcode set
    verdict = classify(err)
    assert verdict is not None and verdict[0] is TRANSIENT
    verdict = classify(sqlite3.OperationalError("near 'SELEC': syntax error"))
    assert verdict is not None and verdict[0] is PERMANENT


def test_docs_list_every_class_and_code() -> None:
    """docs/reliability.md is the operator's view of these tables; it must not drift."""
    page = (Path(__file__).resolve().parents[3] / "docs" / "reliability.md").read_text()
    for klass, (disposition, _) in SQLSTATE_CLASSES.items():
        handling = "retry" if disposition is TRANSIENT else "DLQ"
        assert f"| `{klass}` |" in page, klass
        row = next(line for line in page.splitlines() if line.startswith(f"| `{klass}` |"))
        assert handling in row, row
    for code, (disposition, _) in SQLSTATE_CODES.items():
        handling = "retry" if disposition is TRANSIENT else "DLQ"
        row = next(line for line in page.splitlines() if line.startswith(f"| `{code}` |"))
        assert handling in row, row
    for number in errors.SQLITE_CODES:
        assert f"| {number} |" in page
