"""`python -m services.settings_doc [--check]`: the README's table of every environment variable.

Generated from the settings classes themselves (alias, default, description), so the README
cannot drift from the code; a test runs `--check`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from shared.config import REPO_ROOT, CairnBaseSettings

README = REPO_ROOT / "README.md"
BEGIN, END = "<!-- SETTINGS:BEGIN -->", "<!-- SETTINGS:END -->"

SECTIONS: list[tuple[str, str]] = [
    ("Core", "shared.config:CoreSettings"),
    ("Kafka", "shared.config:KafkaSettings"),
    ("Database", "shared.config:DatabaseSettings"),
    ("Messaging runtime", "shared.messaging.settings:RuntimeSettings"),
    ("Local model tier", "shared.inference.settings:InferenceSettings"),
    ("Routing and fallback", "shared.routing.settings:RoutingSettings"),
    ("Summarizer service", "services.summarizer.settings:SummarizerSettings"),
    ("Rewriter service", "services.rewriter.settings:RewriterSettings"),
    ("Emoji service", "services.emoji.settings:EmojiSettings"),
]


def _load(path: str) -> type[CairnBaseSettings] | None:
    module, _, name = path.partition(":")
    try:
        cls: type[CairnBaseSettings] = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return cls


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(computed)"
    value: Any = field.default
    if value is PydanticUndefined or value is None:
        return "unset"
    if isinstance(value, str) and str(REPO_ROOT) in value:
        value = value.replace(str(REPO_ROOT), ".")
    if isinstance(value, Path):
        value = Path(str(value).replace(str(REPO_ROOT), "."))
    if isinstance(value, (tuple, list)):
        value = ",".join(str(v) for v in value)
    if hasattr(value, "value"):
        value = value.value
    text = str(value)
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}...`"


def _doc(field: FieldInfo) -> str:
    text = (field.description or "").replace("|", "\\|").replace("\n", " ")
    return text


def table() -> str:
    out: list[str] = []
    for title, path in SECTIONS:
        cls = _load(path)
        if cls is None:
            continue
        out.append(f"**{title}** (`{path.replace(':', '.')}`)\n")
        out.append("| Variable | Default | Meaning |")
        out.append("|---|---|---|")
        for name, field in cls.model_fields.items():
            env = field.alias or name.upper()
            out.append(f"| `{env}` | {_default(field)} | {_doc(field)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def undescribed() -> list[str]:
    """Variables whose Field has no `description=`: their row would have an empty meaning."""
    missing = []
    for _, path in SECTIONS:
        cls = _load(path)
        if cls is None:
            missing.append(f"{path} (cannot be imported)")
            continue
        for name, field in cls.model_fields.items():
            if not (field.description or "").strip():
                missing.append(f"{path}: {field.alias or name.upper()}")
    return missing


def render(readme: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    current = README.read_text()
    fresh = render(current)
    if args.check:
        if missing := undescribed():
            print(f"settings without a description: {missing}", file=sys.stderr)
            return 1
        if fresh != current:
            print("README settings table is stale; run `make docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
