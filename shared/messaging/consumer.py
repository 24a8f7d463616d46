"""The consumer loop: fetch in batches, fan out by key, bound in-flight work, commit safely.

State per assigned partition: an offset tracker and the lanes (one per key, or one per
partition in strict mode) that process its events in order. Commits happen on a timer, on
revocation and on shutdown, each time up to the lowest unfinished offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata, TopicPartition

from shared.messaging.offsets import PartitionOffsets
from shared.messaging.settings import RuntimeSettings
from shared.observability.metrics import COMMITS, IN_FLIGHT, PAUSED

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
ProcessFn = Callable[[Record], Awaitable[Any]]


@dataclass
class _Lane:
    queue: deque[Record] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


@dataclass
class _PartitionState:
    offsets: PartitionOffsets = field(default_factory=PartitionOffsets)
    lanes: dict[bytes | None, _Lane] = field(default_factory=dict)
    revoked: bool = False

    def tasks(self) -> list[asyncio.Task[None]]:
        return [lane.task for lane in self.lanes.values() if lane.task and not lane.task.done()]


class ConsumerLoop:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        process: ProcessFn,
        settings: RuntimeSettings,
        *,
        service: str,
    ) -> None:
        self._consumer = consumer
        self._process = process
        self._settings = settings
        self._service = service
        self._partitions: dict[TopicPartition, _PartitionState] = {}
        self._in_flight = 0
        self._paused = False
        self._stopping = asyncio.Event()
        self._running = False
        self.processed = 0

    # -- lifecycle -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def listener(self) -> ConsumerRebalanceListener:
        return _Rebalance(self)

    def stop(self) -> None:
        """Ask the loop to stop fetching; `run` then drains, commits and returns."""
        self._stopping.set()

    async def run(self) -> None:
        self._running = True
        last_commit = time.monotonic()
        try:
            while not self._stopping.is_set():
                # Never fetch more than the in-flight bound has room for, so a full batch
                # cannot overshoot it before the partitions are paused.
                room = max(1, self._settings.max_in_flight - self._in_flight)
                batch = await self._consumer.getmany(
                    timeout_ms=self._settings.fetch_timeout_ms,
                    max_records=min(self._settings.fetch_max_records, room),
                )
                for tp, records in batch.items():
                    state = self._partitions.get(tp)
                    if state is None or state.revoked:
                        continue  # fetched just before a revocation; the new owner has them
                    for record in records:
                        self._dispatch(tp, state, record)
                self._apply_backpressure()
                if time.monotonic() - last_commit >= self._settings.commit_interval_s:
                    await self.commit()
                    last_commit = time.monotonic()
        finally:
            await self._drain(list(self._partitions), self._settings.shutdown_grace_s)
            await self.commit()
            self._running = False

    # -- dispatch ---------------------------------------------------------------------

    def _dispatch(self, tp: TopicPartition, state: _PartitionState, record: Record) -> None:
        state.offsets.started(record.offset)
        self._in_flight += 1
        IN_FLIGHT.labels(self._service).set(self._in_flight)
        key = record.key if self._settings.ordering == "key" else b""
        lane = state.lanes.get(key)
        if lane is None:
            lane = state.lanes[key] = _Lane()
        lane.queue.append(record)
        if lane.task is None or lane.task.done():
            lane.task = asyncio.create_task(self._run_lane(tp, state, key, lane))

    async def _run_lane(
        self, tp: TopicPartition, state: _PartitionState, key: bytes | None, lane: _Lane
    ) -> None:
        # On shutdown or revocation a lane finishes the event in hand and leaves the rest
        # uncommitted: they are redelivered, to this group's next owner of the partition.
        while lane.queue and not state.revoked and not self._stopping.is_set():
            record = lane.queue[0]
            await self._process(record)  # cancellation leaves the offset unfinished
            lane.queue.popleft()
            state.offsets.finished(record.offset)
            self._in_flight -= 1
            self.processed += 1
            IN_FLIGHT.labels(self._service).set(self._in_flight)
        if not lane.queue and state.lanes.get(key) is lane:
            del state.lanes[key]

    def _apply_backpressure(self) -> None:
        high = self._settings.max_in_flight
        assigned = [tp for tp, s in self._partitions.items() if not s.revoked]
        if not self._paused and self._in_flight >= high:
            self._consumer.pause(*assigned)
            self._paused = True
            PAUSED.labels(self._service).set(1)
            log.info("paused fetching: %d events in flight", self._in_flight)
        elif self._paused and self._in_flight <= high // 2:
            self._consumer.resume(*assigned)
            self._paused = False
            PAUSED.labels(self._service).set(0)
            log.info("resumed fetching: %d events in flight", self._in_flight)

    # -- commits and rebalances --------------------------------------------------------

    async def commit(self, partitions: list[TopicPartition] | None = None) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp in partitions if partitions is not None else list(self._partitions):
            state = self._partitions.get(tp)
            position = state.offsets.committable() if state else None
            if state and position is not None:
                offsets[tp] = OffsetAndMetadata(position, "")
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The group moved on (rebalance) or the coordinator is away: the events will be
            # redelivered to whoever owns them and deduplicated by request_id.
            log.warning("commit failed (%s); offsets will be retried or redelivered", exc)
            return
        for tp, meta in offsets.items():
            self._partitions[tp].offsets.mark_committed(meta.offset)
        COMMITS.labels(self._service).inc()

    async def _drain(self, partitions: list[TopicPartition], timeout_s: float) -> None:
        """Let in-flight work of `partitions` finish; cancel what outlives `timeout_s`."""
        tasks = [t for tp in partitions if (s := self._partitions.get(tp)) for t in s.tasks()]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if pending:
            log.warning("cancelled %d lanes still busy after %.1fs", len(pending), timeout_s)

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            if tp in self._partitions:
                self._partitions[tp].revoked = True
        await self._drain(list(revoked), self._settings.rebalance_drain_s)
        await self.commit([tp for tp in revoked if tp in self._partitions])
        for tp in revoked:
            state = self._partitions.pop(tp, None)
            if state:
                # Events cancelled mid-flight are no longer ours: forget them.
                self._in_flight -= sum(len(lane.queue) for lane in state.lanes.values())
        IN_FLIGHT.labels(self._service).set(self._in_flight)
        if revoked:
            log.info("revoked %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked))

    def on_assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            self._partitions.setdefault(tp, _PartitionState())
        if self._paused and assigned:
            self._consumer.pause(*assigned)
        if assigned:
            log.info("assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._loop.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._loop.on_assigned(set(assigned))
