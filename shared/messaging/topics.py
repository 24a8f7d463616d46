"""Topic provisioning on start: create what is missing with configured partitions/replication.

Each topic's creation result is checked: "already exists" means another service was first
and is fine; any other error is raised as `TopicProvisioningError`, retriable or not as
Kafka classifies its error code (a broker still electing a controller is retriable, a
replication factor above the broker count is not). Created topics get
`min.insync.replicas`, so that acks=all producers really write to more than one replica.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from shared.config import KafkaSettings
from shared.errors import CairnError, ConfigurationError
from shared.messaging.clients import make_admin

log = logging.getLogger(__name__)

MIN_INSYNC_REPLICAS = "min.insync.replicas"


class TopicProvisioningError(CairnError):
    """A topic could not be created; `retriable` follows the broker's error code."""

    def __init__(self, failures: dict[str, tuple[type[Exception], str]]) -> None:
        self.failures = failures
        detail = "; ".join(f"{t}: {c.__name__} {m}".strip() for t, (c, m) in failures.items())
        super().__init__(f"could not create topics ({detail})")


class RetriableTopicError(TopicProvisioningError):
    retriable = True


class PermanentTopicError(TopicProvisioningError):
    retriable = False


def default_min_insync(replication: int) -> int:
    """2 when there are 3 replicas or more (one broker may be lost), else 1.

    With 2 replicas, 2 in sync would stop every acks=all write while one broker restarts;
    1 keeps writing and still survives the loss of either broker once it has caught up.
    """
    return 2 if replication >= 3 else 1


def topic_errors(response: Any) -> tuple[set[str], dict[str, tuple[type[Exception], str]]]:
    """Per-topic results of a CreateTopics response (any version): the topics another
    creator was first to, and the errors of the others, by topic."""
    already: set[str] = set()
    failures: dict[str, tuple[type[Exception], str]] = {}
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 and entry[2] else ""
        if code == 0:
            continue
        cls = for_code(code)
        if cls is TopicAlreadyExistsError:
            already.add(name)  # another service created it between our list and our create
            continue
        failures[name] = (cls, message)
    return already, failures


async def ensure_topics(
    kafka: KafkaSettings,
    topics: Iterable[str],
    *,
    partitions: int | None = None,
    replication: int | None = None,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create the missing topics; returns those this call created (not those another
    creator was first to). Raises TopicProvisioningError."""
    rf = replication or kafka.topic_replication
    min_isr = min_insync_replicas or default_min_insync(rf)
    if min_isr > rf:
        raise ConfigurationError(f"min.insync.replicas {min_isr} is above replication {rf}")
    admin = make_admin(kafka, client_id="cairn-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                name=t,
                num_partitions=partitions or kafka.topic_partitions,
                replication_factor=rf,
                topic_configs={MIN_INSYNC_REPLICAS: str(min_isr)},
            )
            for t in missing
        ]
        already, failures = topic_errors(await admin.create_topics(new))
        if failures:
            retriable = all(getattr(cls, "retriable", False) for cls, _ in failures.values())
            error = RetriableTopicError if retriable else PermanentTopicError
            raise error(failures)
        created = [t for t in missing if t not in already]
        if created:
            log.info(
                "created topics %s (replication %d, min.insync.replicas %d)", created, rf, min_isr
            )
        return created
    finally:
        await admin.close()
