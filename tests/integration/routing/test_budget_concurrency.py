"""The daily cap holds across replicas: 50 concurrent hard requests from two OS processes,
each a real Router on a real SqlBudgetStore, against the fake OpenAI server and a small USD
cap. Reservations are atomic in the database, so the settled spend never passes the cap by
more than one request's estimate (here it does not pass it at all: estimates are upper
bounds of what the provider bills)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import pytest

from shared.persistence.budget import SqlBudgetStore
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from shared.routing.budget import utc_today
from tests.fakes.openai_server import FakeOpenAIServer, prompt_text
from tests.support.budget_worker import TENANT

CAP_USD = 0.0008
PROCESSES = 2
REQUESTS_EACH = 25


async def slow_responder(body: dict[str, Any]) -> dict[str, Any]:
    # Answers take a while, so requests from both processes overlap; the summary is long
    # enough that the billed cost is a fair share of the reserved estimate.
    await asyncio.sleep(0.15)
    text = prompt_text(body)
    return {"summary": (text + " ") * 6, "key_points": [text]}


async def run_workers(db_url: str, server: FakeOpenAIServer) -> list[dict[str, Any]]:
    start_at = time.time() + 4.0  # both interpreters are up and connected by then
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.budget_worker",
            "--db",
            db_url,
            "--base-url",
            server.base_url,
            "--requests",
            str(REQUESTS_EACH),
            "--cap-usd",
            str(CAP_USD),
            "--start-at",
            str(start_at),
            "--seed",
            str(seed),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for seed in range(PROCESSES)
    ]
    reports = []
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()[-3000:]
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    return reports


async def test_fifty_requests_from_two_processes_respect_the_cap(any_database_url: str) -> None:
    async with FakeOpenAIServer(responder=slow_responder) as server:
        reports = await run_workers(any_database_url, server)
        calls = len(server.requests)

    engine = create_engine(any_database_url)
    try:
        spend = await SqlBudgetStore(ResultRepository(engine)).spent(TENANT, utc_today())
    finally:
        await engine.dispose()

    assert len({r["pid"] for r in reports}) == PROCESSES
    results = [res for r in reports for res in r["results"]]
    estimate = max(r["estimate_usd"] for r in reports)
    served = [r for r in results if r["tier"] == "openai"]
    refused = [r for r in results if r["degraded_reason"] == "budget_exhausted"]
    billed = sum(r["cost_usd"] for r in served)
    print(
        f"\nbudget race ({any_database_url.split(':')[0]}): cap=${CAP_USD:.6f} "
        f"estimate=${estimate:.6f}/request spend=${spend.usd:.6f} "
        f"({spend.usd / CAP_USD:.1%} of cap) served={len(served)} "
        f"budget_exhausted={len(refused)} provider_calls={calls}"
    )
    assert len(results) == PROCESSES * REQUESTS_EACH
    assert len(served) + len(refused) == len(results), "each is served or refused for budget"
    assert spend.usd <= CAP_USD + estimate, "the cap held across processes"
    assert spend.usd <= CAP_USD + 1e-12, "with upper-bound estimates it is never passed"
    assert spend.usd == pytest.approx(billed), "the ledger equals what the provider billed"
    assert calls == len(served), "no refused request reached the provider"
    # The cap really bound: requests were refused, and most of the budget was used.
    assert refused and served
    assert spend.usd >= CAP_USD / 2, "settlements gave unused estimates back to later ones"
