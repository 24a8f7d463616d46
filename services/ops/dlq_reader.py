"""Reading the dead-letter topic: records as operators see them, and which ones a command picks.

A read is a snapshot: the end offsets are taken when it starts, so records that arrive while a
command runs (a replayed event failing again, say) are never part of the same run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from shared.config import KafkaSettings
from shared.messaging import dlq
from shared.messaging.clients import connection_kwargs

FETCH_TIMEOUT_MS = 500
READ_DEADLINE_S = 120.0
# The runtime's own decode errors name fields and limits, never values (shared.messaging.codec):
# they are safe to print. Any other error's message may quote the input.
SAFE_MESSAGE_TYPES = frozenset({"InvalidEventError"})
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class DeadLetter:
    """One DLQ record: where it sits, why it failed, where it came from. Value kept as bytes."""

    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def from_record(cls, record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
        return cls(
            partition=record.partition,
            offset=record.offset,
            timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
        )

    def header(self, name: str) -> str | None:
        for key, value in reversed(self.headers):  # the runtime's own, appended last, win
            if key == name:
                return value.decode("utf-8", errors="replace")
        return None

    @property
    def service(self) -> str:
        return self.header(dlq.SERVICE) or "unknown"

    @property
    def error_type(self) -> str:
        return self.header(dlq.ERROR_TYPE) or "unknown"

    @property
    def message(self) -> str:
        return self.header(dlq.ERROR_MESSAGE) or ""

    @property
    def source_topic(self) -> str | None:
        return self.header(dlq.SOURCE_TOPIC)

    @property
    def replay_count(self) -> int:
        raw = self.header(dlq.REPLAY_COUNT)
        return int(raw) if raw and raw.isdigit() else 0

    @property
    def origin(self) -> str:
        """The first failure's source coordinates, stable across replays of one event."""
        carried = self.header(dlq.REPLAY_ORIGIN)
        if carried:
            return carried
        return self.source

    @property
    def source(self) -> str:
        """topic:partition:offset of the record that failed."""
        parts = (dlq.SOURCE_TOPIC, dlq.SOURCE_PARTITION, dlq.SOURCE_OFFSET)
        return ":".join(self.header(h) or "?" for h in parts)

    @property
    def coordinates(self) -> str:
        return f"{self.partition}:{self.offset}"

    def reason(self, *, show_text: bool) -> str:
        """The error message, or a placeholder where it may quote user text."""
        if show_text or self.error_type in SAFE_MESSAGE_TYPES:
            return self.message
        return f"<{len(self.message)} chars hidden; --show-text>"

    def age(self, now: datetime) -> timedelta:
        return now - self.timestamp


@dataclass(frozen=True)
class OffsetRange:
    """`P:FROM-TO` (inclusive) or `P:N` on the DLQ topic."""

    partition: int
    first: int
    last: int

    @classmethod
    def parse(cls, text: str) -> OffsetRange:
        try:
            part, _, span = text.partition(":")
            first, _, last = span.partition("-")
            rng = cls(int(part), int(first), int(last) if last else int(first))
        except ValueError:
            raise ValueError(
                f"offsets {text!r}: expected PARTITION:FROM-TO or PARTITION:OFFSET"
            ) from None
        if rng.first < 0 or rng.last < rng.first:
            raise ValueError(f"offsets {text!r}: FROM must be >= 0 and <= TO")
        return rng

    def __contains__(self, item: object) -> bool:
        return (
            isinstance(item, DeadLetter)
            and item.partition == self.partition
            and self.first <= item.offset <= self.last
        )


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command acts on; every given criterion must match."""

    services: frozenset[str] = frozenset()
    error_types: frozenset[str] = frozenset()
    reason: str | None = None  # case-insensitive substring of the error message
    since: datetime | None = None
    until: datetime | None = None
    offsets: tuple[OffsetRange, ...] = field(default_factory=tuple)

    def matches(self, letter: DeadLetter) -> bool:
        if self.services and letter.service not in self.services:
            return False
        if self.error_types and letter.error_type not in self.error_types:
            return False
        if self.reason and self.reason.lower() not in letter.message.lower():
            return False
        if self.since and letter.timestamp < self.since:
            return False
        if self.until and letter.timestamp > self.until:
            return False
        return not self.offsets or any(letter in rng for rng in self.offsets)

    @property
    def partitions(self) -> set[int] | None:
        return {r.partition for r in self.offsets} if self.offsets else None


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 instant (UTC when no zone is given) or a duration ago: 90s, 30m, 2h, 7d."""
    match = _DURATION.match(text.strip())
    if match:
        ago = float(match.group(1)) * _UNITS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=ago)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"time {text!r}: expected ISO 8601 or a duration like 30m, 2h, 7d"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def read_dead_letters(
    kafka: KafkaSettings,
    topic: str,
    selection: Selection,
    *,
    start_at: dict[int, int] | None = None,
) -> tuple[list[DeadLetter], dict[int, int]]:
    """Selected records of `topic` up to its end offsets as of now, and those end offsets.

    `start_at` (partition → offset) starts a partition later than its beginning (a consumer
    group's committed position); `since` seeks by timestamp so old records are not fetched.
    """
    consumer = AIOKafkaConsumer(
        **connection_kwargs(kafka),
        client_id="cairn-dlq-reader",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        if selection.partitions is not None:
            partitions = [p for p in partitions if p in selection.partitions]
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return [], {}
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        starts = await _start_offsets(consumer, tps, selection, start_at or {})
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        letters: list[DeadLetter] = []
        remaining = {tp for tp in tps if starts[tp] < end[tp]}
        deadline = time.monotonic() + READ_DEADLINE_S
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end in {READ_DEADLINE_S:.0f}s")
            batch = await consumer.getmany(*remaining, timeout_ms=FETCH_TIMEOUT_MS)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    letter = DeadLetter.from_record(record)
                    if selection.matches(letter):
                        letters.append(letter)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        letters.sort(key=lambda d: (d.partition, d.offset))
        return letters, {tp.partition: end[tp] for tp in tps}
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        await consumer._client.force_metadata_update()  # first use: metadata not yet fetched
        parts = consumer.partitions_for_topic(topic)
    return sorted(parts or ())


async def _start_offsets(
    consumer: AIOKafkaConsumer,
    tps: Iterable[TopicPartition],
    selection: Selection,
    start_at: dict[int, int],
) -> dict[TopicPartition, int]:
    tps = list(tps)
    starts: dict[TopicPartition, int] = dict(await consumer.beginning_offsets(tps))
    if selection.since is not None:
        by_time = await consumer.offsets_for_times(
            {tp: int(selection.since.timestamp() * 1000) for tp in tps}
        )
        end = await consumer.end_offsets(tps)
        for tp in tps:
            found = by_time.get(tp)
            starts[tp] = found.offset if found is not None else end[tp]
    for tp in tps:
        firsts = [r.first for r in selection.offsets if r.partition == tp.partition]
        if firsts:  # no need to fetch what lies before the first selected offset
            starts[tp] = max(starts[tp], min(firsts))
    for tp in tps:
        if tp.partition in start_at:
            starts[tp] = max(starts[tp], start_at[tp.partition])
    return starts
