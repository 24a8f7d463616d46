"""`python -m shared.persistence.migrate [upgrade|downgrade|current] [revision]`.

Migrations are an explicit step, run before a service starts (`make migrate`, `make up`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.config import CoreSettings, DatabaseSettings
from shared.persistence.engine import redacted

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` to `revision`. Safe to call from inside an event loop."""
    _in_own_thread(lambda: command.upgrade(alembic_config(url), revision))


def downgrade(url: str, revision: str) -> None:
    """Take the schema at `url` back to `revision`. Safe to call from inside an event loop."""
    _in_own_thread(lambda: command.downgrade(alembic_config(url), revision))


def _in_own_thread(run: Callable[[], None]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        run()
        return
    # env.py runs its own event loop; give it a thread of its own.
    error: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if error:
        raise error[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "action", nargs="?", default="upgrade", choices=["upgrade", "downgrade", "current"]
    )
    parser.add_argument("revision", nargs="?", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    url = DatabaseSettings().resolved_url(CoreSettings())
    cfg = alembic_config(url)
    log.info("database: %s", redacted(url))
    if args.action == "upgrade":
        command.upgrade(cfg, args.revision or "head")
    elif args.action == "downgrade":
        command.downgrade(cfg, args.revision or "-1")
    else:
        command.current(cfg, verbose=True)


if __name__ == "__main__":
    main()
