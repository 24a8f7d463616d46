"""A `BudgetStore` wrapper that exports each tenant's share of its daily cap as it is read or
charged, so an alert can fire before a tenant's escalations start degrading."""

from __future__ import annotations

import datetime as dt

from shared.observability.ops_metrics import BUDGET_USED
from shared.routing.budget import BudgetLimits, BudgetStore, Spend


class MeteredBudgetStore:
    def __init__(self, inner: BudgetStore, limits: BudgetLimits) -> None:
        self._inner = inner
        self._limits = limits

    def _observe(self, tenant: str, spend: Spend) -> None:
        if self._limits.tokens:
            BUDGET_USED.labels(tenant, "tokens").set(spend.tokens / self._limits.tokens)
        if self._limits.usd:
            BUDGET_USED.labels(tenant, "usd").set(spend.usd / self._limits.usd)

    async def spent(self, tenant: str, day: dt.date) -> Spend:
        spend = await self._inner.spent(tenant, day)
        self._observe(tenant, spend)
        return spend

    async def add(self, tenant: str, day: dt.date, tokens: int, usd: float) -> None:
        await self._inner.add(tenant, day, tokens, usd)
        self._observe(tenant, await self._inner.spent(tenant, day))

    async def reserve(
        self,
        tenant: str,
        day: dt.date,
        tokens: int,
        usd: float,
        *,
        cap_tokens: int | None,
        cap_usd: float | None,
    ) -> bool:
        reserved = await self._inner.reserve(
            tenant, day, tokens, usd, cap_tokens=cap_tokens, cap_usd=cap_usd
        )
        # A refused reservation is when the gauge matters most: export it either way.
        self._observe(tenant, await self._inner.spent(tenant, day))
        return reserved
