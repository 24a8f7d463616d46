"""`cairn dlq list|show|replay` against the real broker and database.

Poison events (a schema the service rejects, a handler that fails until it is fixed, random
bytes) go to the DLQ beside valid ones. A replay before the fix fails again and carries its
count back into the DLQ; the count stops a further replay. After the fix (a service whose
schema accepts the field, a handler that works), a selective replay stores every replayed
event exactly once; replaying again recomputes nothing; the bytes stay in the DLQ.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from schemas.envelope import RequestEnvelope
from services.cli import build_parser
from services.ops import dlq as ops_dlq
from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.errors import PermanentError
from shared.messaging import dlq
from shared.messaging.app import ServiceRuntime
from shared.messaging.handler import Handler, HandlerResult, ServiceContext, ServiceSpec
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.integration.messaging.conftest import runtime_settings
from tests.reliability.conftest import read_topic
from tests.support.echo import ECHO_SPEC, EchoHandler, EchoPayload, EchoResultEnvelope
from tests.support.events import echo_event, produce

pytestmark = pytest.mark.kafka

REPO_ROOT = Path(__file__).resolve().parents[3]
# Texts in several languages: none may appear in the commands' output without --show-text.
TEXTS = ["Grüße aus München", "東京で会いましょう", "نلتقي غدا", "see you at 5pm"]


class EchoPayloadV2(EchoPayload):
    """The fix for the schema mismatch: the service learns the optional `colour` field."""

    colour: str | None = None


def echo_v2_spec(topic: str) -> ServiceSpec[Any, Any]:
    @asynccontextmanager
    async def lifespan(ctx: ServiceContext) -> AsyncIterator[Handler]:
        yield EchoHandler()

    return ServiceSpec(
        name="echo",
        feature="echo",
        request_model=RequestEnvelope[EchoPayloadV2],
        result_model=EchoResultEnvelope,
        lifespan=lifespan,
    ).with_topics(topic, f"{topic}.results")


class FixableHandler(EchoHandler):
    """Fails permanently on texts marked `needs-fix` until `fixed`, quoting the input."""

    def __init__(self, *, fixed: bool) -> None:
        super().__init__()
        self.fixed = fixed

    async def __call__(self, request: RequestEnvelope[Any]) -> HandlerResult[Any]:
        if not self.fixed and request.payload.text.startswith("needs-fix"):
            self.attempts[request.request_id] += 1
            raise PermanentError(f"no dictionary for {request.payload.text!r}")
        return await super().__call__(request)


def runtime(spec: ServiceSpec[Any, Any], handler: EchoHandler, **ctx: Any) -> ServiceRuntime:
    return ServiceRuntime(
        spec,
        core=CoreSettings(CAIRN_STATE_DIR=str(ctx["tmp_path"])),
        kafka=ctx["kafka"],
        runtime=runtime_settings(ctx["topic"]),
        database=DatabaseSettings(DATABASE_URL=ctx["database_url"]),
        handler=handler,
    )


async def wait_processed(rt: ServiceRuntime, n: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while rt.processed < n:
        assert time.monotonic() < deadline, f"processed {rt.processed} of {n}"
        assert rt.ready(), "the consumer loop died"
        await asyncio.sleep(0.1)


async def cli(kafka: KafkaSettings, *argv: str) -> str:
    out = io.StringIO()
    args = build_parser().parse_args(["dlq", *argv])
    assert await ops_dlq.run(args, out, kafka) == 0
    return out.getvalue()


def last_line(output: str) -> dict[str, str]:
    """`selected=6 replayed=3 ...` → {'selected': '6', 'replayed': '3', ...}."""
    line = output.strip().splitlines()[-1].split(" topics:")[0]
    return dict(part.split("=") for part in line.split())


async def test_poison_fixed_and_replayed_is_stored_once_and_never_loops(
    kafka_bootstrap: str, database_url: str, topic: str, tmp_path: Path
) -> None:
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PARTITIONS=3)
    ctx = {"kafka": kafka, "topic": topic, "database_url": database_url, "tmp_path": tmp_path}
    dlq_topic = f"{topic}.dlq"
    valid = [echo_event(i, text=TEXTS[i % 4]) for i in range(8)]
    schema = [echo_event(100 + i, text=TEXTS[i % 4], colour="red") for i in range(3)]
    broken = [echo_event(200 + i, text=f"needs-fix {TEXTS[i]}") for i in range(3)]
    raw = [b"\xff\xfe" + TEXTS[0].encode(), b'{"request_id": "x", "payload": ']
    poison_ids = {e["request_id"] for e in schema + broken}

    first = runtime(
        ECHO_SPEC.with_topics(topic, f"{topic}.results"), FixableHandler(fixed=False), **ctx
    )
    await first.start()
    try:
        await produce(kafka_bootstrap, topic, [*valid, *schema, *broken, *raw])
        await wait_processed(first, 16)
        listing = await cli(kafka, "list", "--topic", dlq_topic, "--json")
        rows = [json.loads(line) for line in listing.splitlines()]
        by_type: dict[str, int] = {}
        for row in rows:
            by_type[row["error_type"]] = by_type.get(row["error_type"], 0) + row["count"]
        assert by_type == {"InvalidEventError": 5, "PermanentError": 3}
        assert all(row["service"] == "echo" for row in rows)
        assert not any(t in listing for t in TEXTS), "user text printed without --show-text"
        assert "needs-fix" not in listing
        shown = await cli(kafka, "list", "--topic", dlq_topic, "--json", "--show-text")
        assert "needs-fix" in shown, "--show-text prints the handler's message"

        # Dry run: the plan, nothing produced.
        before = len(await read_topic(kafka_bootstrap, topic))
        dry = await cli(
            kafka, "replay", "--topic", dlq_topic, "--error-type", "PermanentError", "--dry-run"
        )
        assert last_line(dry)["would_replay"] == "3"
        assert len(await read_topic(kafka_bootstrap, topic)) == before

        # Replayed before the fix: each fails again and comes back carrying its count.
        again = await cli(kafka, "replay", "--topic", dlq_topic, "--error-type", "PermanentError")
        assert last_line(again)["replayed"] == "3"
        await wait_processed(first, 19)
    finally:
        await first.stop()

    dead = await read_topic(kafka_bootstrap, dlq_topic)
    assert len(dead) == 11
    counts = sorted(int(dict(r.headers).get(dlq.REPLAY_COUNT, b"0")) for r in dead)
    assert counts == [0] * 8 + [1] * 3, "the runtime carried the replay count into the DLQ"
    replayed_inputs = [r for r in await read_topic(kafka_bootstrap, topic) if r.headers]
    replay_headers = [dict(r.headers) for r in replayed_inputs]
    assert len(replayed_inputs) == 3
    assert all(h[dlq.REPLAY_COUNT] == b"1" for h in replay_headers)
    assert {r.key for r in replayed_inputs} == {e["user_id"].encode() for e in broken}

    # The limit: with --max-replays 1 the copies that already went round are skipped, and
    # their older copies are superseded (one replay per origin).
    limited = last_line(
        await cli(
            kafka,
            "replay",
            "--topic",
            dlq_topic,
            "--error-type",
            "PermanentError",
            "--max-replays",
            "1",
        )
    )
    assert limited == {
        "selected": "6",
        "replayed": "0",
        "skipped_over_limit": "3",
        "skipped_superseded": "3",
        "skipped_no_source": "0",
    }

    # The fix: the schema accepts `colour`, the handler works. Replay selectively: the
    # handler's failures and the schema mismatch, not the random bytes.
    fixed_handler = FixableHandler(fixed=True)
    fixed = runtime(echo_v2_spec(topic), fixed_handler, **ctx)
    await fixed.start()
    engine = create_engine(database_url)
    repo = ResultRepository(engine)
    try:
        for selection in (["--error-type", "PermanentError"], ["--reason", "colour"]):
            out = await cli(kafka, "replay", "--topic", dlq_topic, "--rate", "20", *selection)
            assert last_line(out)["replayed"] == "3"
        await wait_processed(fixed, 6)
        ids = await repo.request_ids()
        assert len(ids) == len(set(ids)) == 14, "8 valid + 6 fixed, each stored once"
        assert poison_ids <= set(ids)
        assert all(fixed_handler.attempts[rid] == 1 for rid in poison_ids)

        # Replaying the same selections again: stored already, so re-published, not recomputed.
        for selection in (["--error-type", "PermanentError"], ["--reason", "colour"]):
            await cli(kafka, "replay", "--topic", dlq_topic, "--rate", "50", *selection)
        await wait_processed(fixed, 12)
        ids = await repo.request_ids()
        assert len(ids) == len(set(ids)) == 14
        assert all(fixed_handler.attempts[rid] == 1 for rid in poison_ids), "recomputed"
    finally:
        await fixed.stop()
        await engine.dispose()

    # Nothing looped: no new dead letters after the fix, and the random bytes are still there.
    dead = await read_topic(kafka_bootstrap, dlq_topic)
    assert len(dead) == 11

    # With a consumer group, what a run examined is committed: the next run starts after it.
    drain = ["replay", "--topic", dlq_topic, "--group", f"replay-{topic}", "--dry-run"]
    assert last_line(await cli(kafka, *drain))["would_replay"] == "8", "dry run commits nothing"
    drain.remove("--dry-run")
    assert last_line(await cli(kafka, *drain, "--max-replays", "0"))["selected"] == "11"
    assert last_line(await cli(kafka, *drain))["selected"] == "0"
    results = await read_topic(kafka_bootstrap, f"{topic}.results")
    published = [json.loads(r.value)["request_id"] for r in results if r.value]
    assert set(published) == {e["request_id"] for e in valid} | poison_ids

    # From outside: the command as an operator types it, in its own process.
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "CAIRN_DLQ_TOPIC": dlq_topic}
    listed = await command(env, "dlq", "list")
    assert listed.startswith(f"11 dead letters on {dlq_topic}")
    assert not any(t in listed for t in TEXTS) and "needs-fix" not in listed
    raw_at = next(r for r in dead if r.value == raw[0])
    at = f"{raw_at.partition}:{raw_at.offset}"
    plain = await command(env, "dlq", "show", at)
    assert "error_type: InvalidEventError" in plain and "not UTF-8" in plain
    assert TEXTS[0] not in plain
    assert TEXTS[0] in await command(env, "dlq", "show", at, "--show-text")


async def command(env: dict[str, str], *argv: str) -> str:
    """`python -m services.cli ARGV...` in a child process; its stdout (exit status 0)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *argv,
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()
