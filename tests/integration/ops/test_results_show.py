"""`cairn results show`: one tenant's results only, every feature's match, no user text unless
asked, and nothing written. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from services.cli import build_parser
from services.ops import results as ops_results
from shared.persistence.engine import create_engine
from shared.persistence.repository import NewResult, ResultRepository, sha256_text

REPO_ROOT = Path(__file__).resolve().parents[3]
SECRET_INPUT = "Rückruf bei Frau Nakamura 090-1234-5678"
SECRET_OUTPUT = "Nakamura さんに折り返し電話"


def row(request_id: str, tenant: str, feature: str = "summarize", **kw: object) -> NewResult:
    values: dict[str, object] = {
        "request_id": request_id,
        "feature": feature,
        "tenant_id": tenant,
        "user_id": "user-1",
        "status": "ok",
        "tier": "openai",
        "model": "gpt-4o-mini",
        "reasons": ["too_long"],
        "verified": True,
        "degraded_reason": None,
        "latency_ms": 812.4,
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "cost_usd": 0.000036,
        "input_sha256": sha256_text(SECRET_INPUT),
        "request_fingerprint": sha256_text(f"{tenant}/{feature}/{request_id}"),
        "output": {"request_id": request_id, "result": {"summary": SECRET_OUTPUT}},
        "occurred_at": datetime.now(UTC),
        "subject_key": "stack-9",
        "input_text": SECRET_INPUT,
    }
    values.update(kw)
    return NewResult(**values)  # type: ignore[arg-type]


async def show(url: str, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    args = build_parser().parse_args(["results", "show", *argv])
    return await ops_results.run(args, out, url), out.getvalue()


async def test_results_show_filters_on_tenant_and_hides_text(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    try:
        await repo.save(row("req-7", "tenant-a"))
        await repo.save(row("req-70", "tenant-b"))  # near-duplicate ids, other tenant
        await repo.save(row("REQ-7", "tenant-b", subject_key="stack-9"))
        await repo.save(row("req-8", "tenant-a", tier="local", reasons=[], cost_usd=0.0))
        # Same request_id in a second feature: stored only where the idempotency key includes
        # the feature; whatever is stored must be shown.
        second = await repo.save(row("req-7", "tenant-a", feature="rewrite"))
        expected = 2 if second.inserted else 1
        rows_before = await repo.count()
    finally:
        await engine.dispose()

    status, text = await show(any_database_url, "tenant-a", "req-7", "--json")
    docs = [json.loads(line) for line in text.splitlines()]
    assert status == 0 and len(docs) == expected
    assert {d["tenant_id"] for d in docs} == {"tenant-a"}
    assert {d["request_id"] for d in docs} == {"req-7"}
    doc = docs[-1]
    assert (doc["tier"], doc["reasons"], doc["verified"]) == ("openai", ["too_long"], True)
    assert (doc["prompt_tokens"], doc["completion_tokens"]) == (120, 30)
    assert doc["input_text_stored"] is True
    assert SECRET_INPUT not in text and SECRET_OUTPUT not in text

    # Another tenant's near-duplicate ids never match.
    assert (await show(any_database_url, "tenant-b", "req-7"))[0] == 1
    status, text = await show(any_database_url, "tenant-b", "--stack", "stack-9", "--json")
    assert status == 0
    assert sorted(json.loads(x)["request_id"] for x in text.splitlines()) == ["REQ-7", "req-70"]
    status, text = await show(any_database_url, "tenant-a", "--user", "user-1")
    assert status == 0 and "req-8" in text and "req-70" not in text
    assert "verdict: verified" in text and "cost: $0.000036" in text

    # --show-text prints what was stored, and only then.
    status, text = await show(any_database_url, "tenant-a", "req-7", "--show-text")
    assert SECRET_INPUT in text and SECRET_OUTPUT in text

    # Read-only: nothing was written.
    engine = create_engine(any_database_url)
    try:
        assert await ResultRepository(engine).count() == rows_before
    finally:
        await engine.dispose()

    # From outside, as an operator types it (DATABASE_URL from the environment).
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "results",
        "show",
        "tenant-a",
        "req-7",
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": any_database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    printed = out.decode()
    assert "req-7: ok via openai" in printed and "reasons: too_long" in printed
    assert SECRET_INPUT not in printed and SECRET_OUTPUT not in printed
