"""Fixtures for real components: an Apache Kafka broker and a real database per test.

- Kafka: a KRaft broker started once per session from the Maven Central jars, unless
  CAIRN_TEST_KAFKA names a running one (the Tansu smoke test does that).
- Database: `database_url` is SQLite (a file per test) or, with CAIRN_TEST_DATABASE=postgres,
  a fresh PostgreSQL database per test on CAIRN_TEST_PG_URL. `any_database_url` runs a test on
  both. With CAIRN_REQUIRE_POSTGRES=1 (CI) a missing PostgreSQL fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from infra.stack.kafka import KafkaCluster
from shared.persistence.migrate import upgrade

PG_URL = os.environ.get(
    "CAIRN_TEST_PG_URL", "postgresql+asyncpg://cairn:cairn@127.0.0.1:5432/cairn_test"
)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("CAIRN_TEST_KAFKA")
    if external:
        yield external
        return
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka"))
    cluster.start()
    try:
        yield cluster.bootstrap
    finally:
        cluster.stop()


@pytest.fixture
def topic() -> str:
    """A fresh topic name per test, so tests never see each other's events."""
    return f"test.{uuid.uuid4().hex[:10]}"


async def _postgres_database(*, migrate: bool = True) -> AsyncIterator[str]:
    import asyncpg

    base = make_url(PG_URL)
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CAIRN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable at {base!r}: {exc}")
        pytest.skip(f"PostgreSQL unreachable ({exc}); run infra/postgres/setup.sh")
    name = f"t_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            upgrade(url)
        yield url
    finally:
        try:
            await _drop_database(admin, name)
        finally:
            await admin.close()


async def _drop_database(admin: Any, name: str) -> None:
    """Drops a test database, waiting out an autovacuum worker on it.

    FORCE needs the right to terminate every backend on the database; an autovacuum worker
    belongs to no role, so without pg_signal_backend (infra/postgres/setup.sh grants it) the
    drop fails while one runs. Autovacuum ends in well under a second on a test database, so
    a short retry covers machines provisioned before the grant.
    """
    import asyncio

    import asyncpg

    for attempt in range(40):
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except asyncpg.InsufficientPrivilegeError:
            if attempt == 39:
                raise
            await asyncio.sleep(0.25)


async def _sqlite_database(tmp_path: object, *, migrate: bool = True) -> AsyncIterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path}/cairn.db"
    if migrate:
        upgrade(url)
    yield url


@pytest.fixture
async def database_url(tmp_path: object) -> AsyncIterator[str]:
    """The suite's database: SQLite, or PostgreSQL when CAIRN_TEST_DATABASE=postgres."""
    if os.environ.get("CAIRN_TEST_DATABASE", "sqlite") == "postgres":
        async for url in _postgres_database():
            yield url
    else:
        async for url in _sqlite_database(tmp_path):
            yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_database_url(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[str]:
    """Runs the test once per database backend."""
    if request.param == "postgres":
        async for url in _postgres_database():
            yield url
    else:
        async for url in _sqlite_database(tmp_path):
            yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_empty_database_url(
    request: pytest.FixtureRequest, tmp_path: object
) -> AsyncIterator[str]:
    """A fresh database per backend with no schema at all, for migration tests."""
    if request.param == "postgres":
        async for url in _postgres_database(migrate=False):
            yield url
    else:
        async for url in _sqlite_database(tmp_path, migrate=False):
            yield url


# -- which suites ran against PostgreSQL, printed at the end of every run -------------------

_PG_ITEMS: dict[str, str] = {}  # nodeid → suite (unit, integration, e2e, reliability...)
_PG_RAN: dict[str, int] = {}
_PG_SKIPPED: dict[str, dict[str, int]] = {}


def _suite(item: pytest.Item) -> str:
    parts = item.nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]


def _uses_postgres(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    if "pg_url" in names or params.get("any_database_url") == "postgres":
        return True
    return "database_url" in names and os.environ.get("CAIRN_TEST_DATABASE") == "postgres"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_postgres(item):
            _PG_ITEMS[item.nodeid] = _suite(item)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    suite = _PG_ITEMS.get(report.nodeid)
    if suite is None:
        return
    if report.skipped and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        per_reason = _PG_SKIPPED.setdefault(suite, {})
        per_reason[reason] = per_reason.get(reason, 0) + 1
    elif report.when == "call":
        _PG_RAN[suite] = _PG_RAN.get(suite, 0) + 1


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """After the short summary, as the last lines before the counts: one clear line."""
    yield
    if not _PG_ITEMS:
        return
    ran = ", ".join(f"{s} ({n})" for s, n in sorted(_PG_RAN.items())) or "no suite"
    line = f"PostgreSQL: ran in {ran}"
    if _PG_SKIPPED:
        skipped = "; ".join(
            f"{suite} ({sum(r.values())}: {', '.join(sorted(r))})"
            for suite, r in sorted(_PG_SKIPPED.items())
        )
        line += f"; SKIPPED in {skipped}. PostgreSQL is NOT fully covered by this run"
    if os.environ.get("CAIRN_TEST_DATABASE") != "postgres":
        line += (
            ". Tests on `database_url` ran on SQLite only "
            "(CAIRN_TEST_DATABASE=postgres runs them on PostgreSQL)"
        )
    terminalreporter.write_sep("=", "database backends")
    terminalreporter.write_line(line, red=bool(_PG_SKIPPED), bold=True)
