"""Dashboards and alerts as code: well-formed, fresh, tested by promtool, and naming only
metrics a running Cairn service really serves on /metrics."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from infra.monitoring import dashboards
from shared.config import CoreSettings
from shared.inference.runtime import LocalGenerator
from shared.inference.settings import InferenceSettings
from shared.inference.types import ChatMessage, GenerationParams
from shared.observability.lag import LagSampler
from shared.routing.metrics import default_metrics
from tests.integration.messaging.conftest import StartEcho
from tests.support.events import echo_event, produce

MONITORING = Path(dashboards.__file__).resolve().parent
RULES = sorted((MONITORING / "rules").glob("*.yml"))
METRIC = re.compile(r"\b(cairn_[a-z0-9_]+)\b")


def dashboard_files() -> list[Path]:
    return sorted(dashboards.OUT_DIR.glob("*.json"))


def all_expressions() -> list[str]:
    exprs = [
        t["expr"]
        for path in dashboard_files()
        for panel in json.loads(path.read_text())["panels"]
        for t in panel["targets"]
    ]
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            exprs.extend(rule["expr"] for rule in group["rules"])
    return exprs


def test_dashboards_are_fresh_and_well_formed() -> None:
    assert dashboards.main(["--check"]) == 0, "run `make dashboards` and commit"
    files = dashboard_files()
    assert {p.stem for p in files} == {f"cairn-{s}" for s in dashboards.SERVICES}
    uids = set()
    for path in files:
        board: dict[str, Any] = json.loads(path.read_text())
        uids.add(board["uid"])
        assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)) >= 6
        titles = " ".join(p["title"].lower() for p in board["panels"])
        for topic in ("lag", "throughput", "latency", "escalation", "cost", "batch", "padding"):
            assert topic in titles, f"{path.name}: no {topic} panel"
        for panel in board["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
            refs = [t["refId"] for t in panel["targets"]]
            assert panel["targets"] and len(refs) == len(set(refs))
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"]
                assert target["expr"].count("(") == target["expr"].count(")")
    assert len(uids) == len(files)


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool missing in CI: `make monitoring-tools` installs it")
        pytest.skip("promtool not installed (make monitoring-tools)")
    check = subprocess.run(
        [promtool, "check", "rules", *map(str, RULES)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = sorted((MONITORING / "tests").glob("*.test.yml"))
    run = subprocess.run(
        [promtool, "test", "rules", *(p.name for p in tests)],
        cwd=MONITORING / "tests",
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Each alert has a firing case and a silent one (an eval with no expected alerts).
    alerts = {
        rule["alert"]
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    fired, silent = set(), set()
    for path in tests:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check_ in case.get("alert_rule_test", []):
                (fired if check_.get("exp_alerts") else silent).add(check_["alertname"])
            # A series beside the firing one that stays silent counts as a silent case too.
            if len(case["input_series"]) > 1:
                silent.update(c["alertname"] for c in case.get("alert_rule_test", []))
    assert alerts == fired, f"alerts never tested firing: {alerts - fired}"
    assert alerts <= silent, f"alerts never tested silent: {alerts - silent}"


async def scrape(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    body = await reader.read()
    writer.close()
    return body.split(b"\r\n\r\n", 1)[1].decode()


def exported_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
    return names


@pytest.mark.kafka
@pytest.mark.model
async def test_every_expression_names_a_metric_a_running_service_serves(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str
) -> None:
    default_metrics()  # what a service's router registers
    settings = InferenceSettings(
        INFERENCE_DEVICE="cpu", INFERENCE_TORCH_THREADS=1, INFERENCE_WARMUP=False
    )
    generator = await LocalGenerator.start(settings, CoreSettings(), model="smollm2-135m-instruct")
    try:
        await generator.generate(
            [ChatMessage(role="user", content="Say hi.")], GenerationParams(max_new_tokens=4)
        )
        runtime = await start_echo()
        events = [echo_event(i) for i in range(20)]
        await produce(kafka_bootstrap, topic, [*events, b"\xff poison"])
        deadline = time.monotonic() + 60
        while runtime.processed < 21:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        assert runtime.health is not None
        text = ""
        while "cairn_consumer_lag{" not in text:  # the sampler runs every few seconds
            assert time.monotonic() < deadline + 30, "no lag sample"
            await asyncio.sleep(0.5)
            text = await scrape(runtime.health.port)
    finally:
        await generator.close()

    names = exported_names(text)
    used = {m for expr in all_expressions() for m in METRIC.findall(expr)}
    assert len(used) >= 12
    assert used <= names, f"not served on /metrics: {sorted(used - names)}"
    samples = {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    dead = [
        s for s in samples if s[0] == "cairn_dead_letters_total" and ("service", "echo") in s[1]
    ]
    assert dead and dead[0][2] >= 1
    assert any(s[0] == "cairn_inference_mean_batch_size" for s in samples)


@pytest.mark.kafka
async def test_lag_is_highwater_minus_committed(kafka_bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, b"x%d" % i, partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=f"lag-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        got = 0
        while got < 10:
            got += sum(len(r) for r in (await consumer.getmany(timeout_ms=1000)).values())
        sampler = LagSampler(consumer, service="probe", group=f"lag-{topic}")
        assert (await sampler.sample())[tp] == 10, "nothing committed: everything is lag"
        await consumer.commit({tp: OffsetAndMetadata(3, "")})
        assert (await sampler.sample())[tp] == 7
        await consumer.commit({tp: OffsetAndMetadata(10, "")})
        assert (await sampler.sample())[tp] == 0
    finally:
        await consumer.stop()
