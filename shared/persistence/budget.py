"""Routing budgets kept in the database, so every replica of a service sees one spend."""

from __future__ import annotations

import datetime as dt

from shared.persistence.repository import ResultRepository
from shared.routing.budget import Spend


class SqlBudgetStore:
    """`shared.routing.BudgetStore` on the `tenant_spend` table (an upsert per charge)."""

    def __init__(self, repository: ResultRepository) -> None:
        self._repo = repository

    async def spent(self, tenant: str, day: dt.date) -> Spend:
        tokens, usd = await self._repo.spent(tenant, day)
        return Spend(tokens=tokens, usd=usd)

    async def add(self, tenant: str, day: dt.date, tokens: int, usd: float) -> None:
        await self._repo.add_spend(tenant, day, tokens, usd)
