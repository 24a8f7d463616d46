from __future__ import annotations

import pytest

from tests.unit.routing.fake_task import routing_env_names


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Routing settings come only from what each test passes, never the developer's shell."""
    for name in routing_env_names():
        monkeypatch.delenv(name, raising=False)
