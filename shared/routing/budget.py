"""Per-tenant daily budgets for the metered (external) tiers.

A `BudgetStore` keeps what each tenant spent per UTC day; `BudgetLimits` says whether more
may be spent. Check-then-charge is not atomic across processes: a burst can overshoot the
limit by the requests already in flight, which is the usual trade for a soft daily cap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .settings import ModelPrice, RoutingSettings


@dataclass(frozen=True)
class Spend:
    tokens: int = 0
    usd: float = 0.0


class BudgetStore(Protocol):
    """Where spend is kept. The in-memory store serves one process; a SQL one can serve many."""

    async def spent(self, tenant: str, day: dt.date) -> Spend: ...

    async def add(self, tenant: str, day: dt.date, tokens: int, usd: float) -> None: ...


class InMemoryBudgetStore:
    """Process-local spend, keeping only the last `keep_days` days."""

    def __init__(self, *, keep_days: int = 2) -> None:
        self._spend: dict[tuple[str, dt.date], Spend] = {}
        self._lock = asyncio.Lock()
        self._keep_days = keep_days

    async def spent(self, tenant: str, day: dt.date) -> Spend:
        return self._spend.get((tenant, day), Spend())

    async def add(self, tenant: str, day: dt.date, tokens: int, usd: float) -> None:
        async with self._lock:
            old = self._spend.get((tenant, day), Spend())
            self._spend[(tenant, day)] = Spend(old.tokens + tokens, old.usd + usd)
            horizon = day - dt.timedelta(days=self._keep_days)
            for key in [k for k in self._spend if k[1] < horizon]:
                del self._spend[key]


@dataclass(frozen=True)
class BudgetLimits:
    """Daily caps per tenant; None means no cap of that kind."""

    tokens: int | None = None
    usd: float | None = None

    @classmethod
    def from_settings(cls, settings: RoutingSettings) -> BudgetLimits:
        return cls(tokens=settings.tenant_daily_tokens, usd=settings.tenant_daily_usd)

    def allows(self, spend: Spend) -> bool:
        if self.tokens is not None and spend.tokens >= self.tokens:
            return False
        return not (self.usd is not None and spend.usd >= self.usd)


def utc_today(now: Callable[[], dt.datetime] | None = None) -> dt.date:
    return (now() if now else dt.datetime.now(dt.UTC)).date()


def chat_cost_usd(price: ModelPrice | None, prompt_tokens: int, completion_tokens: int) -> float:
    if price is None:
        return 0.0
    return (
        prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok
    ) / 1_000_000


def image_cost_usd(
    price: ModelPrice | None, images: int, input_tokens: int, output_tokens: int
) -> float:
    if price is None:
        return 0.0
    return images * price.per_image + chat_cost_usd(price, input_tokens, output_tokens)
