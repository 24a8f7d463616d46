"""Topic provisioning against the real broker: every topic's result is checked, and created
topics carry min.insync.replicas."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import InvalidReplicationFactorError, InvalidTopicError

from shared.config import KafkaSettings
from shared.errors import ConfigurationError, is_retriable
from shared.messaging.topics import (
    PermanentTopicError,
    RetriableTopicError,
    TopicProvisioningError,
    default_min_insync,
    ensure_topics,
    topic_errors,
)

pytestmark = pytest.mark.kafka

# DescribeConfigs config_source: 1 = set on the topic, 5 = the broker's static default.
TOPIC_CONFIG_SOURCE = 1


async def topic_config(bootstrap: str, topic: str, key: str) -> tuple[str, int]:
    """(value, config_source) of one config of `topic`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {key: None})]
        )
        ((_, _, _, _, entries),) = response.resources
        for entry in entries:
            if entry[0] == key:
                return entry[1], entry[3] if response.API_VERSION >= 1 else -1
        raise AssertionError(f"{key} not described for {topic}")
    finally:
        await admin.close()


async def existing(bootstrap: str, expect: str | None = None) -> set[str]:
    """Topic names the cluster lists; waits up to 5 s for `expect` (metadata lags creation)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = set(await admin.list_topics())
        for _ in range(50):
            if expect is None or expect in names:
                break
            await asyncio.sleep(0.1)
            names = set(await admin.list_topics())
        return names
    finally:
        await admin.close()


async def test_created_topics_carry_min_insync_replicas(kafka_bootstrap: str, topic: str) -> None:
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PARTITIONS=2)
    names = [topic, f"{topic}.results"]
    created = await ensure_topics(kafka, names, min_insync_replicas=1)
    assert created == names, created
    value, source = await topic_config(kafka_bootstrap, topic, "min.insync.replicas")
    assert value == "1"
    assert source == TOPIC_CONFIG_SOURCE, "set on the topic, not inherited from the broker"
    assert await ensure_topics(kafka, [topic]) == [], "nothing left to create"


async def test_racing_creators_are_fine(kafka_bootstrap: str, topic: str) -> None:
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    names = [topic, f"{topic}.results", f"{topic}.dlq"]
    results = await asyncio.gather(*(ensure_topics(kafka, names) for _ in range(4)))
    # No caller failed; between them they created every topic (the others saw it listed or
    # got TopicAlreadyExists and carried on).
    assert {t for created in results for t in created} == set(names), results
    assert set(names) <= await existing(kafka_bootstrap)


async def test_a_replication_above_the_broker_count_is_a_permanent_error(
    kafka_bootstrap: str, topic: str
) -> None:
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_REPLICATION=3)
    with pytest.raises(PermanentTopicError) as raised:
        await ensure_topics(kafka, [topic])
    assert not is_retriable(raised.value)
    assert raised.value.failures[topic][0] is InvalidReplicationFactorError
    assert "InvalidReplicationFactorError" in str(raised.value)
    assert topic not in await existing(kafka_bootstrap)


async def test_one_bad_name_fails_the_call_and_names_only_that_topic(
    kafka_bootstrap: str, topic: str
) -> None:
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    bad = f"{topic}/not allowed"
    with pytest.raises(PermanentTopicError) as raised:
        await ensure_topics(kafka, [topic, bad])
    assert set(raised.value.failures) == {bad}
    assert raised.value.failures[bad][0] is InvalidTopicError
    assert topic in await existing(kafka_bootstrap, topic), "the call's valid topic was created"


async def test_min_insync_above_replication_is_refused_before_any_call() -> None:
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1", KAFKA_TOPIC_REPLICATION=2)
    with pytest.raises(ConfigurationError, match="above replication 2"):
        await ensure_topics(kafka, ["never"], min_insync_replicas=3)


def test_error_codes_are_classified() -> None:
    # CreateTopics v0 (no message) and v1+ (with message) entries; 36 = TopicAlreadyExists.
    response = SimpleNamespace(
        topic_errors=[("a", 0, None), ("b", 36, "exists"), ("c", 7, "timed out"), ("d", 41)]
    )
    already, failures = topic_errors(response)
    assert already == {"b"}
    assert set(failures) == {"c", "d"}
    assert all(getattr(cls, "retriable", False) for cls, _ in failures.values())
    assert issubclass(RetriableTopicError, TopicProvisioningError)
    assert issubclass(PermanentTopicError, TopicProvisioningError)
    assert RetriableTopicError.retriable and not PermanentTopicError.retriable
    assert [default_min_insync(n) for n in (1, 2, 3, 5)] == [1, 1, 2, 2]
