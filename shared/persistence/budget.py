"""Routing budgets kept in the database, so every replica of a service sees one spend."""

from __future__ import annotations

import datetime as dt

from shared.persistence.repository import ResultRepository
from shared.routing.budget import Spend


class SqlBudgetStore:
    """`shared.routing.BudgetStore` on the `tenant_spend` table: an atomic conditional
    update per reservation, an upsert per settlement."""

    def __init__(self, repository: ResultRepository) -> None:
        self._repo = repository

    async def spent(self, tenant: str, day: dt.date) -> Spend:
        tokens, usd = await self._repo.spent(tenant, day)
        return Spend(tokens=tokens, usd=usd)

    async def add(self, tenant: str, day: dt.date, tokens: int, usd: float) -> None:
        await self._repo.add_spend(tenant, day, tokens, usd)

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
        return await self._repo.reserve_spend(
            tenant, day, tokens, usd, cap_tokens=cap_tokens, cap_usd=cap_usd
        )
