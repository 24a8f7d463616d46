"""From outside: a service on the real broker and database, its router built by its
lifespan as a deployment builds it (`start_router` with the runtime's SqlBudgetStore),
against the fake OpenAI server. What is checked is what comes out: the provider's request
count, the DLQ headers, the published results and the spend row."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

from schemas.envelope import Provenance, RequestEnvelope, ResultStatus
from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.messaging import dlq
from shared.messaging.app import ServiceRuntime
from shared.messaging.handler import Handler, HandlerResult, ServiceContext, ServiceSpec
from shared.persistence.budget import SqlBudgetStore
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from shared.routing.budget import utc_today
from shared.routing.router import start_router
from tests.fakes.openai_server import FakeOpenAIServer, Fault
from tests.integration.messaging.conftest import runtime_settings
from tests.support.echo import ECHO_SPEC, EchoResult
from tests.support.events import consume_until, echo_event, produce
from tests.unit.routing.fake_task import FakeTask

pytestmark = pytest.mark.kafka

CHAT = "/v1/chat/completions"


@asynccontextmanager
async def routed_lifespan(ctx: ServiceContext) -> AsyncIterator[Handler]:
    async with AsyncExitStack() as stack:
        router = await start_router(stack, budget_store=ctx.budget_store)

        async def handle(request: RequestEnvelope[Any]) -> HandlerResult[Any]:
            task = FakeTask(
                text=request.payload.text,
                request_id=request.request_id,
                tenant_id=request.tenant_id,
                confidence=-9.0,
            )
            outcome = await router.route(task)
            assert outcome.result is not None
            return HandlerResult(
                status=ResultStatus.OK,
                result=EchoResult(text=outcome.result.summary[:200], attempts=1),
                provenance=Provenance(
                    tier=outcome.tier or "none",
                    model=outcome.model or "-",
                    verified=True,
                    degraded_reason=outcome.degraded_reason,
                    latency_ms=outcome.latency_ms,
                    prompt_tokens=outcome.prompt_tokens,
                    completion_tokens=outcome.completion_tokens,
                    cost_usd=outcome.cost_usd,
                ),
            )

        yield handle


ROUTED = ServiceSpec(
    name="routed",
    feature="echo",
    request_model=ECHO_SPEC.request_model,
    result_model=ECHO_SPEC.result_model,
    lifespan=routed_lifespan,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as server:
        yield server


async def start_service(
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeOpenAIServer,
    kafka_bootstrap: str,
    database_url: str,
    topic: str,
    tmp_path: object,
    **routing: Any,
) -> ServiceRuntime:
    env = {
        "OPENAI_API_KEY": "sk-test-key",
        "OPENAI_BASE_URL": fake.base_url,
        "CAIRN_LATENCY_BUDGET_MS": "0",
        "CAIRN_FALLBACK_MAX_RETRIES": "2",
        **{k: str(v) for k, v in routing.items()},
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime = ServiceRuntime(
        ROUTED.with_topics(topic, f"{topic}.results"),
        core=CoreSettings(CAIRN_STATE_DIR=str(tmp_path)),
        kafka=KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PARTITIONS=2),
        runtime=runtime_settings(topic, CAIRN_MAX_ATTEMPTS=4),
        database=DatabaseSettings(DATABASE_URL=database_url),
    )
    await runtime.start()
    return runtime


async def test_failing_provider_gets_three_calls_per_event_through_kafka(
    monkeypatch, fake, kafka_bootstrap, database_url, topic, tmp_path
) -> None:
    fake.always(Fault.error(503))
    runtime = await start_service(
        monkeypatch,
        fake,
        kafka_bootstrap,
        database_url,
        topic,
        tmp_path,
        CAIRN_TIERS="openai",
        CAIRN_BREAKER_FAILURES=1000,
    )
    try:
        events = [echo_event(i) for i in range(5)]
        await produce(kafka_bootstrap, topic, events)
        dead = await consume_until(kafka_bootstrap, f"{topic}.dlq", count=5, timeout_s=90)
    finally:
        await runtime.stop()
    calls = [r for r in fake.requests if r.path == CHAT]
    assert len(dead) == 5
    for record in dead:
        headers = dict(record.headers)
        assert headers[dlq.ATTEMPTS] == b"4", "the runtime re-ran each handler 4 times"
        assert headers[dlq.ERROR_RETRIABLE] == b"true", "a replay later may succeed"
    assert len(calls) == 15, "3 provider calls per event, not 4 x 3"
    texts = [json.loads(r.body)["messages"][-1]["content"] for r in calls]
    assert sorted(set(texts)) == sorted(e["payload"]["text"] for e in events)


async def test_cap_holds_for_a_service_and_spend_matches_results(
    monkeypatch, fake, kafka_bootstrap, database_url, topic, tmp_path
) -> None:
    runtime = await start_service(
        monkeypatch,
        fake,
        kafka_bootstrap,
        database_url,
        topic,
        tmp_path,
        CAIRN_TENANT_DAILY_USD="0.00012",
        CAIRN_FALLBACK_MAX_OUTPUT_TOKENS="64",
    )
    try:
        events = [echo_event(i, key="u-same") for i in range(12)]  # one key: one at a time
        await produce(kafka_bootstrap, topic, events)
        out = await consume_until(kafka_bootstrap, f"{topic}.results", count=12, timeout_s=90)
    finally:
        await runtime.stop()
    results = [json.loads(r.value) for r in out]
    provenance = [r["provenance"] for r in results]
    served = [p for p in provenance if p["tier"] == "openai"]
    refused = [p for p in provenance if p["degraded_reason"] == "budget_exhausted"]
    assert served and refused and len(served) + len(refused) == 12
    engine = create_engine(database_url)
    try:
        spend = await SqlBudgetStore(ResultRepository(engine)).spent("tenant-a", utc_today())
    finally:
        await engine.dispose()
    assert spend.usd <= 0.00012
    assert spend.usd == pytest.approx(sum(p["cost_usd"] for p in served))
    assert len([r for r in fake.requests if r.path == CHAT]) == len(served)
