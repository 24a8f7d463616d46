"""Topic provisioning on start: create what is missing with configured partitions/replication."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.config import KafkaSettings
from shared.messaging.clients import make_admin

log = logging.getLogger(__name__)


async def ensure_topics(
    kafka: KafkaSettings,
    topics: Iterable[str],
    *,
    partitions: int | None = None,
    replication: int | None = None,
) -> None:
    admin = make_admin(kafka, client_id="cairn-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if not missing:
            return
        new = [
            NewTopic(
                name=t,
                num_partitions=partitions or kafka.topic_partitions,
                replication_factor=replication or kafka.topic_replication,
            )
            for t in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):  # another service was first
            await admin.create_topics(new)
        log.info("created topics %s", missing)
    finally:
        await admin.close()
