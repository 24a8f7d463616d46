"""Consumer lag per assigned partition, sampled on the service's own loop.

lag = high watermark (from the last fetch) - the group's committed offset: the records an
operator would still wait for if the service stopped now. It is what kafka-exporter's
`kafka_consumergroup_lag` reports, computed by the consumer itself so no exporter is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from shared.observability.ops_metrics import CONSUMER_LAG

log = logging.getLogger(__name__)

LAG_INTERVAL_S = 5.0


class LagSampler:
    def __init__(self, consumer: AIOKafkaConsumer, *, service: str, group: str) -> None:
        self._consumer = consumer
        self._service = service
        self._group = group
        self._labelled: set[TopicPartition] = set()

    async def sample(self) -> dict[TopicPartition, int]:
        """Set the gauge for every assigned partition; drop partitions no longer assigned."""
        lags: dict[TopicPartition, int] = {}
        for tp in sorted(self._consumer.assignment()):
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue  # nothing fetched from it yet
            committed = await self._consumer.committed(tp)
            if committed is None:  # the group never committed here: all that is kept is lag
                committed = (await self._consumer.beginning_offsets([tp]))[tp]
            lags[tp] = max(0, highwater - committed)
        for tp, lag in lags.items():
            CONSUMER_LAG.labels(self._service, self._group, tp.topic, str(tp.partition)).set(lag)
        for tp in self._labelled - set(lags):
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self._service, self._group, tp.topic, str(tp.partition))
        self._labelled = set(lags)
        return lags

    async def run(self, interval_s: float = LAG_INTERVAL_S) -> None:
        while True:
            try:
                await self.sample()
            except Exception as exc:
                # A rebalance in progress or the coordinator away: the next sample will do.
                # A gauge must never take the service down, whatever went wrong.
                log.debug("lag sample skipped: %s", exc)
            await asyncio.sleep(interval_s)


def start_lag_sampler(
    consumer: AIOKafkaConsumer, *, service: str, group: str
) -> asyncio.Task[None]:
    sampler = LagSampler(consumer, service=service, group=group)
    return asyncio.create_task(sampler.run(), name=f"{service}-lag")
