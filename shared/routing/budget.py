"""Per-tenant daily budgets for the metered (external) tiers: reserve, call, settle.

Every HTTP attempt to a metered endpoint first *reserves* its estimated cost. The
reservation is one atomic step in the store (`spent + estimate <= cap`, checked and added
together), so replicas racing for the last of a tenant's budget cannot all win. After the
attempt the reservation is *settled* with what the provider billed (the difference is added
or given back), *released* when the request never produced a billable answer (an error
status, a refused connection), or *kept* when nobody can know (a timeout, a body that is
not JSON: the provider may have done and billed the work).

Estimates are upper bounds: prompt tokens are counted as UTF-8 bytes (every token of a
byte-level BPE covers at least one byte) plus a per-message overhead, completion tokens as
the call's `max_completion_tokens`. So reserved spend never passes the cap, and settled
spend passes it only where a provider bills more than the bound (a price table that is
wrong, a usage report above the output cap), by at most what the attempts in flight
under-estimated.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from . import constants as c
from .errors import BudgetExhausted
from .settings import ModelPrice, RoutingSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spend:
    tokens: int = 0
    usd: float = 0.0


class BudgetStore(Protocol):
    """Where spend is kept. The in-memory store serves one process; the SQL one many."""

    async def spent(self, tenant: str, day: dt.date) -> Spend: ...

    async def add(self, tenant: str, day: dt.date, tokens: int, usd: float) -> None:
        """Add a delta (negative to give back), whatever the caps."""
        ...

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
        """Add `tokens`/`usd` only if the totals stay within the caps, atomically; whether
        it was added."""
        ...


def fits(
    spend: Spend, tokens: int, usd: float, cap_tokens: int | None, cap_usd: float | None
) -> bool:
    if cap_tokens is not None and spend.tokens + tokens > cap_tokens:
        return False
    return not (cap_usd is not None and spend.usd + usd > cap_usd)


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
            self._add(tenant, day, tokens, usd)

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
        async with self._lock:
            if not fits(self._spend.get((tenant, day), Spend()), tokens, usd, cap_tokens, cap_usd):
                return False
            self._add(tenant, day, tokens, usd)
            return True

    def _add(self, tenant: str, day: dt.date, tokens: int, usd: float) -> None:
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
        """Whether anything more may be spent (the quick check when planning)."""
        if self.tokens is not None and spend.tokens >= self.tokens:
            return False
        return not (self.usd is not None and spend.usd >= self.usd)


def utc_today(now: Callable[[], dt.datetime] | None = None) -> dt.date:
    return (now() if now else dt.datetime.now(dt.UTC)).date()


# -- prices and estimates --------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What one provider answer reported (or what an estimate assumes)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    images: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def chat_cost_usd(price: ModelPrice | None, prompt_tokens: int, completion_tokens: int) -> float:
    if price is None:
        return 0.0
    return (
        prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok
    ) / 1_000_000


def image_cost_usd(
    price: ModelPrice | None,
    images: int,
    input_tokens: int,
    output_tokens: int,
    *,
    size: str | None = None,
    quality: str | None = None,
) -> float:
    """Per-image price for the size and quality, plus the tokens the model bills."""
    if price is None:
        return 0.0
    return images * price.image_price(size, quality) + chat_cost_usd(
        price, input_tokens, output_tokens
    )


def prompt_tokens_upper_bound(messages: Sequence[dict[str, str]], *extra: str) -> int:
    """An upper bound on the prompt tokens a byte-level BPE tokenizer counts."""
    total = c.PROMPT_OVERHEAD_TOKENS
    for message in messages:
        total += c.MESSAGE_OVERHEAD_TOKENS
        total += sum(len(str(v).encode("utf-8")) for v in message.values())
    return total + sum(len(text.encode("utf-8")) for text in extra)


def schema_text(schema: object) -> str:
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


# -- reservations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    tokens: int
    usd: float


class Reservation:
    """One attempt's reserved spend; settle, release or keep it exactly once."""

    def __init__(self, ledger: Ledger, tenant: str, day: dt.date, estimate: Charge) -> None:
        self._ledger = ledger
        self.tenant = tenant
        self.day = day
        self.estimate = estimate
        self.charged: Charge | None = None

    async def settle(self, actual: Charge) -> None:
        """The provider billed `actual`: adjust the reserved estimate by the difference."""
        if self.charged is not None:
            return
        self.charged = actual
        await self._ledger.adjust(
            self.tenant,
            self.day,
            actual.tokens - self.estimate.tokens,
            actual.usd - self.estimate.usd,
        )

    async def release(self) -> None:
        """Nothing was billed (the provider never produced an answer)."""
        await self.settle(Charge(0, 0.0))

    def keep(self) -> None:
        """Unknown whether it was billed: the estimate stays charged."""
        if self.charged is None:
            self.charged = self.estimate


class Ledger:
    """The tenants' budgets on a store, with the caps from settings."""

    def __init__(
        self, store: BudgetStore, limits: BudgetLimits, today: Callable[[], dt.date]
    ) -> None:
        self.store = store
        self.limits = limits
        self._today = today

    async def allows(self, tenant: str) -> bool:
        """Quick check when planning: the tenant has something left today."""
        if self.limits.tokens is None and self.limits.usd is None:
            return True
        try:
            spend = await self.store.spent(tenant, self._today())
        except Exception as exc:
            # Fail closed: an unknown spend must not become an unbounded one.
            log.error(
                "budget store unavailable (%s); treating tenant %s as over budget",
                type(exc).__name__,
                tenant,
            )
            return False
        return self.limits.allows(spend)

    async def reserve(self, tenant: str, estimate: Charge) -> Reservation:
        day = self._today()
        try:
            ok = await self.store.reserve(
                tenant,
                day,
                estimate.tokens,
                estimate.usd,
                cap_tokens=self.limits.tokens,
                cap_usd=self.limits.usd,
            )
        except Exception as exc:
            log.error(
                "budget store unavailable (%s); refusing to call for tenant %s",
                type(exc).__name__,
                tenant,
            )
            raise BudgetExhausted("budget store unavailable") from exc
        if not ok:
            raise BudgetExhausted(f"tenant {tenant}: estimate does not fit today's budget")
        return Reservation(self, tenant, day, estimate)

    async def adjust(self, tenant: str, day: dt.date, tokens: int, usd: float) -> None:
        if tokens == 0 and usd == 0:
            return
        try:
            await self.store.add(tenant, day, tokens, usd)
        except Exception as exc:
            # The reservation (an upper bound) stays charged: spend is over-counted, never
            # under-counted.
            log.error("could not settle spend for tenant %s: %s", tenant, type(exc).__name__)


class Meter:
    """Reserves before each HTTP attempt of one call and settles after it.

    `price_of(usage)` turns reported usage into USD; `estimate` is one attempt's bound.
    The adapter calls `before_attempt` / `billed` / `not_billed` / `unknown`.
    """

    def __init__(
        self,
        ledger: Ledger,
        tenant: str,
        estimate: Charge,
        price_of: Callable[[Usage], float],
    ) -> None:
        self._ledger = ledger
        self._tenant = tenant
        self.estimate = estimate
        self._price_of = price_of
        self._current: Reservation | None = None
        self.charged = Charge(0, 0.0)

    async def before_attempt(self) -> None:
        """Raises `BudgetExhausted` when the attempt's estimate does not fit."""
        self._current = await self._ledger.reserve(self._tenant, self.estimate)

    async def billed(self, usage: Usage) -> Charge:
        charge = Charge(usage.tokens, self._price_of(usage))
        reservation, self._current = self._current, None
        if reservation is not None:
            await reservation.settle(charge)
            self._add(charge)
        return charge

    async def not_billed(self) -> None:
        reservation, self._current = self._current, None
        if reservation is not None:
            await reservation.release()

    def unknown(self) -> None:
        reservation, self._current = self._current, None
        if reservation is not None:
            reservation.keep()
            self._add(reservation.estimate)

    def _add(self, charge: Charge) -> None:
        self.charged = Charge(self.charged.tokens + charge.tokens, self.charged.usd + charge.usd)
