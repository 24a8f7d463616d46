"""The README's configuration table is generated from the settings classes; keep it fresh."""

from __future__ import annotations

import ast

from services import settings_doc


def test_readme_lists_every_setting() -> None:
    assert settings_doc.main(["--check"]) == 0, "run `make docs` and commit README.md"


def test_table_covers_each_settings_section() -> None:
    table = settings_doc.table()
    for alias in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "CAIRN_MAX_IN_FLIGHT"):
        assert f"`{alias}`" in table


def test_every_setting_has_a_meaning() -> None:
    assert settings_doc.undescribed() == [], "add description= to these Fields"
    for line in settings_doc.table().splitlines():
        if line.startswith("| `"):
            meaning = line.rstrip().rstrip("|").rsplit("|", 1)[-1].strip()
            assert meaning, f"empty meaning: {line}"


def test_every_settings_class_is_in_the_table() -> None:
    """A settings class added anywhere must be listed in SECTIONS, so its variables are."""
    listed = {path.replace(":", ".") for _, path in settings_doc.SECTIONS}
    found = set()
    for package in ("shared", "services"):
        for path in (settings_doc.REPO_ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            module = ".".join(path.relative_to(settings_doc.REPO_ROOT).with_suffix("").parts)
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and b.id == "CairnBaseSettings" for b in node.bases
                ):
                    found.add(f"{module}.{node.name}")
    assert found, "no settings class found: the scan is broken"
    assert found <= listed, f"not in settings_doc.SECTIONS: {sorted(found - listed)}"
