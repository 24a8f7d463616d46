"""The three service images, run with podman as a cluster would run them.

Read-only root, non-root user, no capabilities, host network to a native Kafka broker and
PostgreSQL. The schema is migrated from the image (as the Job does), the init container's
wait is run, then requests of every feature go in through Kafka and the test checks what
comes out: one published result per request, one stored row, stickers on the blob volume.
Cold start (container start to /readyz 200), peak RSS and graceful stop are measured and
written to build/podman-test.json.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.demo.events import emoji_events, rewrite_events, summarize_events
from infra.images import tools
from infra.images.constants import SERVICES, image_tag
from infra.stack.kafka import KafkaCluster, free_port
from shared.persistence.engine import create_engine
from shared.persistence.migrate import alembic_config
from shared.persistence.models import ResultRecord
from tests.support.events import consume_until, produce

pytestmark = [pytest.mark.slow, pytest.mark.podman, pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "build" / "podman-test.json"
PG_URL = os.environ.get(
    "CAIRN_TEST_PG_URL", "postgresql+asyncpg://cairn:cairn@127.0.0.1:5432/cairn_test"
)
FEATURES = {"summarizer": "summarize", "rewriter": "rewrite", "emoji": "emoji"}
READY_TIMEOUT_S = 420.0
RESULT_TIMEOUT_S = 600.0
# What a pod gets in Kubernetes: read-only root, an unprivileged user, no capabilities.
HARDENING = (
    "--read-only",
    "--user",
    "10001:10001",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--network",
    "host",
)


def _require(reason: str) -> None:
    if os.environ.get("CAIRN_REQUIRE_IMAGES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    if not tools.have("podman"):
        _require("podman is not installed (make images-tools)")
    tags = {s: image_tag(s) for s in SERVICES}
    missing = [t for t in tags.values() if tools.image_labels(t) is None]
    if missing:
        _require(f"images not built: {missing} (make images)")
    return tags


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A broker of its own: the services use their canonical topic names.
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka-podman"))
    cluster.start()
    try:
        yield cluster.bootstrap
    finally:
        cluster.stop()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    import asyncpg

    base = make_url(PG_URL)
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        _require(f"PostgreSQL unreachable at {base!r}: {exc}")
    name = f"deploy_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def podman_run(image: str, *args: str, env: dict[str, str], timeout: float = 300) -> str:
    flags = [f"--env={k}={v}" for k, v in env.items()]
    done = subprocess.run(
        tools.podman("run", "--rm", *tools.RUN_FLAGS, *HARDENING, *flags, image, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def logs(name: str) -> str:
    # The services log to stderr; podman logs replays it there.
    done = subprocess.run(tools.podman("logs", name), capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def peak_rss_mb(name: str) -> float:
    status = tools.output(tools.podman("exec", name, "cat", "/proc/1/status"))
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(name: str) -> float:
    """User + system CPU time of the service process so far (clock ticks of 1/100 s)."""
    fields = tools.output(tools.podman("exec", name, "cat", "/proc/1/stat")).rsplit(")", 1)[-1]
    parts = fields.split()
    return (int(parts[11]) + int(parts[12])) / 100 if len(parts) > 12 else 0.0


def requests_per_feature() -> dict[str, list[dict[str, Any]]]:
    """Two realistic requests of every feature, with fresh ids (several languages)."""
    picked = {
        "summarize": summarize_events()[:2],
        "rewrite": [rewrite_events()[1], rewrite_events()[2]],
        "emoji": emoji_events()[:2],
    }
    for events in picked.values():
        for event in events:
            event["request_id"] = f"podman-{uuid.uuid4().hex[:12]}"
    picked["emoji"][1]["locale"] = "de-DE"
    picked["emoji"][1]["payload"]["description"] = "eine Katze mit Sonnenbrille"
    return picked


async def stored(url: str) -> list[ResultRecord]:
    engine = create_engine(url)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session:
            return list((await session.scalars(select(ResultRecord))).all())
    finally:
        await engine.dispose()


async def test_service_images_process_every_feature(
    images: dict[str, str], kafka: str, pg_url: str, tmp_path: Path
) -> None:
    report: dict[str, Any] = {"images": {}, "services": {}}
    for tag in images.values():
        report["images"][tag] = {"bytes": tools.image_size(tag)}
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "KAFKA_TOPIC_PARTITIONS": "2",
        "DATABASE_URL": pg_url,
        "CAIRN_TIERS": "local",
        "CAIRN_HEALTH_HOST": "127.0.0.1",
        "CAIRN_LOG_JSON": "true",
    }

    # The migration Job, then the init container's wait (returns at once: schema at head).
    started = time.monotonic()
    podman_run(
        images["summarizer"],
        "python",
        "-m",
        "shared.persistence.migrate",
        "upgrade",
        env={"DATABASE_URL": pg_url},
    )
    report["migrate_s"] = round(time.monotonic() - started, 1)
    wait_script = ROOT / "infra" / "k8s" / "base" / "wait_for_schema.py"
    out = podman_run(
        images["summarizer"],
        "python",
        "-c",
        wait_script.read_text(),
        env={"DATABASE_URL": pg_url, "CAIRN_SCHEMA_WAIT_S": "30"},
    )
    head = ScriptDirectory.from_config(alembic_config(pg_url)).get_current_head()
    assert f"schema at {head}" in out, out

    blobs = tmp_path / "blobs"
    blobs.mkdir()
    shutil.chown(blobs, 10001, 10001)
    run_id = uuid.uuid4().hex[:6]
    ports = {s: free_port() for s in images}
    names = {s: f"cairn-test-{s}-{run_id}" for s in images}
    t0: dict[str, float] = {}
    try:
        for service, tag in images.items():
            env = {**common, "CAIRN_HEALTH_PORT": str(ports[service])}
            volumes = ["--volume", f"{blobs}:/opt/cairn/state/blobs"] if service == "emoji" else []
            flags = [f"--env={k}={v}" for k, v in env.items()]
            t0[service] = time.monotonic()
            await asyncio.to_thread(
                subprocess.run,
                tools.podman(
                    "run",
                    "--detach",
                    "--name",
                    names[service],
                    *tools.RUN_FLAGS,
                    *HARDENING,
                    *volumes,
                    *flags,
                    tag,
                ),
                check=True,
                capture_output=True,
            )
        pending = set(images)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            for service in sorted(pending):
                if ready(ports[service]):
                    report["services"][service] = {
                        "cold_start_s": round(time.monotonic() - t0[service], 1)
                    }
                    pending.discard(service)
            await asyncio.sleep(0.5)
        tails = {s: logs(names[s])[-3000:] for s in pending}
        assert not pending, f"not ready within {READY_TIMEOUT_S:.0f}s: {tails}"

        cpu_at_ready = {s: cpu_seconds(names[s]) for s in images}
        events = requests_per_feature()
        for feature, batch in events.items():
            await produce(kafka, f"cairn.{feature}.requests.v1", batch)
        # A redelivered request (same id, sent again): stored once, never recomputed.
        duplicate = copy.deepcopy(events["emoji"][0])
        await produce(kafka, "cairn.emoji.requests.v1", [duplicate])

        published: dict[str, list[dict[str, Any]]] = {}
        for feature, batch in events.items():
            records = await consume_until(
                kafka,
                f"cairn.{feature}.results.v1",
                count=len(batch),
                timeout_s=RESULT_TIMEOUT_S,
            )
            for record in records:
                assert record.value is not None
                envelope = json.loads(record.value)
                published.setdefault(envelope["request_id"], []).append(envelope)
        sent = {e["request_id"]: (f, e) for f, b in events.items() for e in b}
        assert set(sent) <= set(published), f"missing results: {set(sent) - set(published)}"

        rows = await stored(pg_url)
        counts = Counter(r.request_id for r in rows)
        assert counts == Counter(list(sent)), f"one row per request: {counts}"
        for row in rows:
            feature, event = sent[row.request_id]
            envelope = published[row.request_id][0]
            assert row.output == envelope
            assert row.feature == feature == envelope["feature"]
            assert (row.tenant_id, row.user_id) == (event["tenant_id"], event["user_id"])
            assert envelope["status"] in ("ok", "degraded"), envelope
            assert envelope["provenance"]["tier"] == "local", envelope["provenance"]
        for request_id, copies in published.items():
            # Re-published results are the stored envelope, byte for byte.
            assert all(c == copies[0] for c in copies), request_id

        for event in events["emoji"]:
            result = published[event["request_id"]][0]["result"]
            assert result["candidates"], result
            for sticker in result["stickers"]:
                digest = sticker["uri"].removeprefix("blob://sha256/")
                png = blobs / "sha256" / digest[:2] / f"{digest}.png"
                assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", sticker
            assert result["stickers"], result

        for service in images:
            entry = report["services"][service]
            entry["peak_rss_mb"] = round(peak_rss_mb(names[service]), 1)
            entry["cpu_s_at_ready"] = round(cpu_at_ready[service], 1)
            entry["cpu_s_for_requests"] = round(
                cpu_seconds(names[service]) - cpu_at_ready[service], 1
            )
            entry["requests"] = len(events[FEATURES[service]])
        for service in images:
            started = time.monotonic()
            await asyncio.to_thread(
                subprocess.run,
                tools.podman("stop", "--time", "45", names[service]),
                check=True,
                capture_output=True,
            )
            report["services"][service]["stop_s"] = round(time.monotonic() - started, 1)
            text = logs(names[service])
            assert "stopped after" in text, text[-2000:]
    finally:
        for name in names.values():
            await asyncio.to_thread(
                subprocess.run,
                tools.podman("rm", "--force", name),
                capture_output=True,
                check=False,
            )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
