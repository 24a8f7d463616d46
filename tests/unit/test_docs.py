"""The README's configuration table is generated from the settings classes; keep it fresh."""

from __future__ import annotations

from services import settings_doc


def test_readme_lists_every_setting() -> None:
    assert settings_doc.main(["--check"]) == 0, "run `make docs` and commit README.md"


def test_table_covers_each_settings_section() -> None:
    table = settings_doc.table()
    for alias in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "CAIRN_MAX_IN_FLIGHT"):
        assert f"`{alias}`" in table
