"""A private PostgreSQL cluster that a test may stop, restart, demote, promote or starve.

The shared server other tests use is never touched: this one is `initdb`'d into a temporary
directory on a free port, from the binaries Debian's `postgresql` package installs
(infra/postgres/setup.sh), and removed afterwards. As root (CI) the server runs as the
`postgres` user, since PostgreSQL refuses to run as root.

Roles: `postgres` is the superuser the test drives the faults with (trust on 127.0.0.1 and
the socket); `cairn` is a plain login role owning the databases, as in production, so the
per-role connection limit and the superuser-reserved slots apply to it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from infra.stack.kafka import free_port

APP_ROLE = "cairn"
APP_PASSWORD = "cairn"
SUPERUSER = "postgres"
# Small and fast: fsync off (a test cluster, thrown away), few connection slots.
SERVER_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 40
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_connections = off
"""


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """`CAIRN_TEST_PG_BINDIR`, else the newest /usr/lib/postgresql/*/bin, else `pg_config`."""
    explicit = os.environ.get("CAIRN_TEST_PG_BINDIR")
    candidates = [Path(explicit)] if explicit else []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if p.name.replace(".", "").isdigit()),
            key=lambda p: [int(x) for x in p.name.split(".")],
            reverse=True,
        )
        candidates += [v / "bin" for v in versions]
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise ClusterUnavailable("no initdb/pg_ctl found (install Debian's postgresql package)")


@dataclass
class PgCluster:
    """One private server. `url(db)` is what the services use; `admin_dsn` the superuser's."""

    bindir: Path
    root: Path
    port: int = field(default_factory=free_port)
    _as_root: bool = field(default_factory=lambda: os.geteuid() == 0)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def create(cls) -> PgCluster:
        bindir = find_bindir()
        root = Path(tempfile.mkdtemp(prefix="cairn-pg-"))
        cluster = cls(bindir, root)
        if cluster._as_root:
            # The server must not run as root; its directory must belong to its user.
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        cluster._run("initdb", "-D", str(cluster.data), "-U", SUPERUSER, "--auth=trust",
                     "-E", "UTF8", "--no-sync", "--no-instructions")  # fmt: skip
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_CONF.format(port=cluster.port, socket_dir=cluster.root))
        return cluster

    def _run(self, tool: str, *args: str, timeout: float = 90, check: bool = True) -> str:
        cmd = [str(self.bindir / tool), *args]
        if self._as_root:
            cmd = ["runuser", "-u", SUPERUSER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/")
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{self.log_tail()}"
            )
        return done.stdout

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start and wait until it accepts connections (or, as a standby, reaches standby)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60",
                  "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are terminated (57P01) and the server shuts down cleanly;
        `immediate`: like a crash, recovery on the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        out = subprocess.run(
            [*(["runuser", "-u", SUPERUSER, "--"] if self._as_root else []),
             str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True, cwd="/",
        )  # fmt: skip
        return out.returncode == 0

    def restart_as_standby(self, *, hot_standby: bool) -> None:
        """Stop, then start in recovery (standby.signal): the state of a replica, or of a
        server coming back after a failover. With `hot_standby` off every connection is
        refused with 57P03 (cannot_connect_now); with it on, reads work and every write
        fails with 25006 (read_only_sql_transaction)."""
        self.stop("fast")
        self._write_conf_line(f"hot_standby = {'on' if hot_standby else 'off'}")
        signal = self.data / "standby.signal"
        signal.touch()
        if self._as_root:
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(signal, entry.pw_uid, entry.pw_gid)
        self.start()

    def promote(self) -> None:
        """End recovery: the standby becomes a primary that accepts writes (a failover)."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "promote")

    def _write_conf_line(self, line: str) -> None:
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(line + "\n")

    def destroy(self) -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop",
                      check=False)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    # -- SQL as the superuser ------------------------------------------------------------

    async def admin(self, *statements: str) -> list[object]:
        """Run statements as the superuser; returns the first column of each one's first row."""
        import asyncpg

        conn = await asyncpg.connect(self.admin_dsn, timeout=10)
        try:
            return [await conn.fetchval(s) for s in statements]
        finally:
            await conn.close()

    async def wait_accepting(self, timeout_s: float = 60) -> None:
        import asyncpg

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                conn = await asyncpg.connect(self.admin_dsn, timeout=5)
                try:
                    if not await conn.fetchval("SELECT pg_is_in_recovery()"):
                        return
                finally:
                    await conn.close()
            except (OSError, asyncpg.PostgresError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not accepting writes after {timeout_s}s")
            await _sleep(0.2)

    async def provision(self) -> None:
        """The application role, a plain login role as in production."""
        exists = await self.admin(f"SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}'")
        if exists != [1]:
            await self.admin(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'")

    async def create_database(self) -> str:
        """A fresh, migrated database owned by the application role; returns its URL."""
        from shared.persistence.migrate import upgrade

        name = f"t_{uuid.uuid4().hex[:12]}"
        await self.admin(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
        url = self.url(name)
        upgrade(url)
        return url

    # -- faults --------------------------------------------------------------------------

    async def set_read_only(self, on: bool) -> None:
        """`default_transaction_read_only` for every session, applied by a reload: every
        write then fails with 25006, as on a primary fenced during a failover."""
        if on:
            await self.admin(
                "ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()"
            )
        else:
            await self.admin(
                "ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()"
            )

    async def limit_role_connections(self, limit: int) -> None:
        """The role's connection limit (-1: none). New connections over it get 53300."""
        await self.admin(f"ALTER ROLE {APP_ROLE} CONNECTION LIMIT {limit}")

    async def terminate_app_sessions(self) -> int:
        """End every session of the application role (57P01 on their next statement)."""
        got = await self.admin(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE usename = '{APP_ROLE}'"
        )
        return int(str(got[0]))

    async def app_sessions(self) -> int:
        got = await self.admin(
            f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{APP_ROLE}'"
        )
        return int(str(got[0]))


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def private_cluster() -> Iterator[PgCluster]:
    """Body of the `private_pg` fixtures: a started, provisioned cluster, destroyed after.

    Skips without the server binaries, or fails under CAIRN_REQUIRE_POSTGRES=1 (CI)."""
    import asyncio

    import pytest

    try:
        cluster = PgCluster.create()
    except ClusterUnavailable as exc:
        if os.environ.get("CAIRN_REQUIRE_POSTGRES") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        cluster.start()
        asyncio.run(cluster.provision())
        yield cluster
    finally:
        cluster.destroy()
