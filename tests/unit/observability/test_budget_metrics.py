"""The budget gauge follows each tenant's spend as the router reads and charges it."""

from __future__ import annotations

import datetime as dt

from prometheus_client import REGISTRY

from shared.observability.budget_metrics import MeteredBudgetStore
from shared.routing.budget import BudgetLimits, InMemoryBudgetStore


def used(tenant: str, kind: str) -> float | None:
    return REGISTRY.get_sample_value(
        "cairn_tenant_budget_used_ratio", {"tenant": tenant, "kind": kind}
    )


async def test_ratio_per_tenant_and_kind() -> None:
    store = MeteredBudgetStore(InMemoryBudgetStore(), BudgetLimits(tokens=1000, usd=2.0))
    day = dt.date(2025, 6, 1)
    await store.add("tenant-gauge-a", day, 850, 0.5)
    await store.add("tenant-gauge-a1", day, 10, 1.9)  # near-duplicate id, its own series
    assert used("tenant-gauge-a", "tokens") == 0.85
    assert used("tenant-gauge-a", "usd") == 0.25
    assert used("tenant-gauge-a1", "usd") == 0.95
    spend = await store.spent("tenant-gauge-b", day)
    assert spend.tokens == 0 and used("tenant-gauge-b", "tokens") == 0.0


async def test_no_cap_no_series() -> None:
    store = MeteredBudgetStore(InMemoryBudgetStore(), BudgetLimits())
    await store.add("tenant-gauge-uncapped", dt.date(2025, 6, 1), 10, 1.0)
    assert used("tenant-gauge-uncapped", "usd") is None
