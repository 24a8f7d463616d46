"""One replica in the budget race: a real Router on a real SqlBudgetStore, sending hard
requests to the fake OpenAI server; prints one JSON line with what each request got.

    python -m tests.support.budget_worker --db URL --base-url URL --requests 25 \
        --cap-usd 0.001 --start-at EPOCH_S
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from typing import Any

from prometheus_client import CollectorRegistry

from shared.persistence.budget import SqlBudgetStore
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from shared.routing import Router, RoutingMetrics
from shared.routing.budget import Charge, chat_cost_usd, prompt_tokens_upper_bound, schema_text
from tests.unit.routing.fake_task import FakeTask, Summary, make_settings, routing_env_names

TENANT = "tenant-race"
MAX_OUTPUT_TOKENS = 64


def settings_values(base_url: str, cap_usd: float) -> dict[str, Any]:
    return {
        "CAIRN_TIERS": "local,openai",
        "OPENAI_API_KEY": "sk-test-key",
        "OPENAI_BASE_URL": base_url,
        "OPENAI_TIMEOUT_S": 10.0,
        "CAIRN_TENANT_DAILY_USD": cap_usd,
        "CAIRN_FALLBACK_MAX_OUTPUT_TOKENS": MAX_OUTPUT_TOKENS,
    }


def estimate(task: FakeTask, base_url: str, cap_usd: float) -> Charge:
    """One attempt's reservation, computed as the router computes it."""
    settings = make_settings(**settings_values(base_url, cap_usd))
    prompt = prompt_tokens_upper_bound(
        task.remote_prompt(), schema_text(Summary.model_json_schema())
    )
    usd = chat_cost_usd(settings.price(settings.openai_model), prompt, MAX_OUTPUT_TOKENS)
    return Charge(prompt + MAX_OUTPUT_TOKENS, usd)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    for name in routing_env_names():
        os.environ.pop(name, None)
    engine = create_engine(args.db)
    router = Router(
        make_settings(**settings_values(args.base_url, args.cap_usd)),
        budget_store=SqlBudgetStore(ResultRepository(engine)),
        metrics=RoutingMetrics(CollectorRegistry()),
    )
    rng = random.Random(args.seed)

    async def one(i: int) -> dict[str, Any]:
        # Spread the requests over a second, so settlements free budget for later ones.
        await asyncio.sleep(rng.uniform(0, args.spread_s))
        task = FakeTask(confidence=-9.0, tenant_id=TENANT, text=f"Race request {i}: dinner at 8")
        outcome = await router.route(task)
        return {
            "tier": outcome.tier,
            "degraded_reason": outcome.degraded_reason,
            "cost_usd": outcome.cost_usd,
            "tokens": outcome.prompt_tokens + outcome.completion_tokens
            if outcome.tier == "openai"
            else 0,
        }

    try:
        await asyncio.sleep(max(0.0, args.start_at - time.time()))
        results = await asyncio.gather(*(one(i) for i in range(args.requests)))
    finally:
        await router.aclose()
        await engine.dispose()
    worst = estimate(FakeTask(text=f"Race request {args.requests}: dinner at 8"), args.base_url, 1)
    return {"pid": os.getpid(), "results": results, "estimate_usd": worst.usd}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--requests", type=int, default=25)
    parser.add_argument("--cap-usd", type=float, required=True)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--spread-s", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
