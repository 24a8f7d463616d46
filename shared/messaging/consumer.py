"""The consumer loop: fetch in batches, fan out by key, bound in-flight work, commit safely.

State per assigned partition: an offset tracker and the lanes (one per key, or one per
partition in strict mode) that process its events in order. Commits happen on a timer, on
revocation and on shutdown, each time up to the lowest unfinished offset.

Every lane is supervised: a failure escaping the processor (a dead-letter write that raised,
a bug in a store) is logged by type, the event is processed again with backoff, and after
`CAIRN_LANE_MAX_FAILURES` failures it is dead-lettered by the last-resort path. An event is
never dropped: while neither processing nor any dead-letter write succeeds, it stays
uncommitted and the lane keeps trying. A lane task that dies anyway (a bug in this module)
stops the loop with that error, so the process exits non-zero instead of pinning commits.
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
from shared.messaging.retry import backoff_delay
from shared.messaging.settings import RuntimeSettings
from shared.observability.metrics import COMMITS, IN_FLIGHT, LANE_FAILURES, PAUSED

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
ProcessFn = Callable[[Record], Awaitable[Any]]
# The last resort for an event whose processing keeps failing: dead-letter it, or raise.
GiveUpFn = Callable[[Record, BaseException, int], Awaitable[None]]


class LaneTaskDied(RuntimeError):
    """A lane task ended with an error it should have handled: a bug; the loop stops."""


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
        give_up: GiveUpFn | None = None,
    ) -> None:
        self._consumer = consumer
        self._process = process
        self._give_up = give_up
        self._settings = settings
        self._service = service
        self._partitions: dict[TopicPartition, _PartitionState] = {}
        self._in_flight = 0
        self._paused = False
        self._stopping = asyncio.Event()
        self._running = False
        self._fatal: BaseException | None = None
        self.processed = 0
        # Read by the health checks: when the loop last went round (monotonic clock), how
        # many assignments it received (an empty one counts), and lanes now retrying.
        self.last_beat: float | None = None
        self.assignments = 0
        self.retrying = 0

    # -- lifecycle -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def assigned(self) -> list[TopicPartition]:
        return [tp for tp, s in self._partitions.items() if not s.revoked]

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
                self.last_beat = time.monotonic()
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
            if self._fatal is not None:
                raise LaneTaskDied(f"a lane task died: {type(self._fatal).__name__}")
        finally:
            await self._drain(list(self._partitions), self._settings.shutdown_grace_s)
            try:
                await self.commit()
            except Exception as exc:  # the client died under us: the events are redelivered
                log.error("final commit failed (%s); offsets will be redelivered", exc)
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
            lane.task.add_done_callback(self._lane_done)

    def _lane_done(self, task: asyncio.Task[None]) -> None:
        # `_run_lane` handles every error of an event; one escaping it is a bug here.
        # Stop the loop loudly rather than leave an offset unfinished forever.
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("lane task died (%s); stopping the consumer loop", type(exc).__name__)
        if self._fatal is None:
            self._fatal = exc
        self._stopping.set()

    async def _run_lane(
        self, tp: TopicPartition, state: _PartitionState, key: bytes | None, lane: _Lane
    ) -> None:
        # On shutdown or revocation a lane finishes the event in hand and leaves the rest
        # uncommitted: they are redelivered, to this group's next owner of the partition.
        while lane.queue and not state.revoked and not self._stopping.is_set():
            record = lane.queue[0]
            if not await self._supervised(tp, state, record):
                break  # revoked or stopping while retrying: redelivered, never dropped
            lane.queue.popleft()
            state.offsets.finished(record.offset)
            self._in_flight -= 1
            self.processed += 1
            IN_FLIGHT.labels(self._service).set(self._in_flight)
        if not lane.queue and state.lanes.get(key) is lane:
            del state.lanes[key]

    async def _supervised(self, tp: TopicPartition, state: _PartitionState, record: Record) -> bool:
        """Process `record` until it is dealt with; False if abandoned to redelivery.

        Re-processing is safe: the processor re-publishes a stored result and never stores
        twice. Only the exception's type is logged: its message may quote the event.
        """
        s = self._settings
        failures = 0
        try:
            while True:
                try:
                    await self._process(record)  # cancellation leaves the offset unfinished
                    return True
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    if failures == 1:
                        self.retrying += 1
                    LANE_FAILURES.labels(self._service).inc()
                    log.error(
                        "event at %s[%d]@%d failed outside the handler (%s), failure %d",
                        tp.topic,
                        tp.partition,
                        record.offset,
                        type(exc).__name__,
                        failures,
                    )
                    log.debug("lane failure detail", exc_info=True)
                    due = failures % s.lane_max_failures == 0 and self._give_up is not None
                    if due and await self._last_resort(tp, record, exc, failures):
                        return True
                await asyncio.sleep(backoff_delay(failures, s.retry_initial_s, s.retry_max_s))
                if state.revoked or self._stopping.is_set():
                    return False
        finally:
            if failures:
                self.retrying -= 1

    async def _last_resort(
        self, tp: TopicPartition, record: Record, exc: BaseException, failures: int
    ) -> bool:
        assert self._give_up is not None
        try:
            await self._give_up(record, exc, failures)
        except asyncio.CancelledError:
            raise
        except Exception as again:
            log.error(
                "last-resort dead-letter of %s[%d]@%d failed (%s); the event stays uncommitted",
                tp.topic,
                tp.partition,
                record.offset,
                type(again).__name__,
            )
            return False
        log.error(
            "event at %s[%d]@%d dead-lettered after %d failures",
            tp.topic,
            tp.partition,
            record.offset,
            failures,
        )
        return True

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
            # Bounded: with the coordinator gone, aiokafka waits for a new one indefinitely,
            # which would stall the loop (and fail liveness) for the length of an outage.
            await asyncio.wait_for(
                self._consumer.commit(offsets), self._settings.session_timeout_ms / 1000
            )
        except (CommitFailedError, KafkaError, TimeoutError) as exc:
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
        self.assignments += 1
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
