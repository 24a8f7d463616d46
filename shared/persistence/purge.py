"""`python -m shared.persistence.purge`: delete results older than the retention period."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from shared.config import CoreSettings, DatabaseSettings
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository

log = logging.getLogger(__name__)


async def purge(db: DatabaseSettings, core: CoreSettings) -> int:
    engine = create_engine(db.resolved_url(core))
    try:
        cutoff = datetime.now(UTC) - timedelta(days=db.retention_days)
        return await ResultRepository(engine).purge_older_than(cutoff)
    finally:
        await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    db = DatabaseSettings()
    deleted = asyncio.run(purge(db, CoreSettings()))
    log.info("purged %d results older than %d days", deleted, db.retention_days)


if __name__ == "__main__":
    main()
