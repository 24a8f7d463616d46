"""Init container: wait until the database schema is at the head revision this image knows.

The migration Job upgrades the schema; a service pod started before it finishes waits here
instead of failing its first inserts. Runs in the service image (python wait_for_schema.py).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from alembic.script import ScriptDirectory
from sqlalchemy import text

from shared.config import CoreSettings, DatabaseSettings
from shared.persistence.engine import create_engine
from shared.persistence.migrate import alembic_config

TIMEOUT_S = float(os.environ.get("CAIRN_SCHEMA_WAIT_S", "900"))
POLL_S = 5.0


async def current(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            row = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return row.scalar()
    except Exception as exc:  # no table yet, database not reachable yet: both mean "wait"
        print(f"schema not readable yet: {type(exc).__name__}", flush=True)
        return None
    finally:
        await engine.dispose()


def main() -> int:
    url = DatabaseSettings().resolved_url(CoreSettings())
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    deadline = time.monotonic() + TIMEOUT_S
    while (revision := asyncio.run(current(url))) != head:
        if time.monotonic() > deadline:
            print(f"schema at {revision}, expected {head}: giving up", flush=True)
            return 1
        print(f"schema at {revision}, waiting for {head}", flush=True)
        time.sleep(POLL_S)
    print(f"schema at {head}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
