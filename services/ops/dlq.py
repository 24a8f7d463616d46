"""`cairn dlq list|show|replay`: what is on the dead-letter topic, and re-driving it after a fix.

Replay re-produces each selected record to its original topic (`cairn.source.topic`) with its
original key, value and headers, plus `cairn.replay.count` (one more than the record carried)
and `cairn.replay.origin` (the first failure's topic:partition:offset). The runtime keeps both
when a replayed event fails again, so:
- a chain of replays is bounded: a record already replayed `--max-replays` times is skipped;
- one run replays each origin once, the most-replayed copy, even if the DLQ holds several;
- the DLQ is read up to its end offsets as of the start, so a run never meets its own failures.
A replayed event whose request_id is already stored is re-published by the service, never
recomputed: replaying twice is safe.

What was replayed is printed per record (DLQ partition:offset → topic) and, with `--group`,
recorded as that consumer group's committed offsets on the DLQ: the next run with the same
group starts after them. Without `--group` nothing is committed and the selection alone
decides (explicit `--offsets` make a replay exactly repeatable).

Nothing here prints user text (values, and error messages that may quote them) unless
`--show-text` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from services.ops.dlq_reader import (
    DeadLetter,
    OffsetRange,
    Selection,
    parse_time,
    read_dead_letters,
)
from shared.config import KafkaSettings
from shared.messaging import dlq
from shared.messaging.clients import connection_kwargs, make_producer
from shared.messaging.settings import RuntimeSettings

DEFAULT_MAX_REPLAYS = 3
DEFAULT_RATE_PER_S = 50.0


# -- selection from the command line ------------------------------------------------------


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topic", help="dead-letter topic (default: CAIRN_DLQ_TOPIC)")
    parser.add_argument("--service", action="append", default=[], help="repeatable")
    parser.add_argument("--error-type", action="append", default=[], help="e.g. PermanentError")
    parser.add_argument("--reason", help="case-insensitive substring of the error message")
    parser.add_argument("--since", help="ISO 8601 time or a duration ago (30m, 2h, 7d)")
    parser.add_argument("--until", help="ISO 8601 time or a duration ago")
    parser.add_argument(
        "--offsets",
        action="append",
        default=[],
        type=_offsets_arg,
        help="PARTITION:FROM-TO (inclusive) or PARTITION:OFFSET on the DLQ; repeatable",
    )
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.add_argument(
        "--show-text", action="store_true", help="also print values and every error message"
    )


def _offsets_arg(text: str) -> OffsetRange:
    try:
        return OffsetRange.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def selection_from(args: argparse.Namespace) -> Selection:
    return Selection(
        services=frozenset(args.service),
        error_types=frozenset(args.error_type),
        reason=args.reason,
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until) if args.until else None,
        offsets=tuple(args.offsets),
    )


def dlq_topic(args: argparse.Namespace) -> str:
    return str(args.topic or RuntimeSettings().dlq_topic)


# -- list ---------------------------------------------------------------------------------


def summarize(letters: list[DeadLetter], *, now: datetime, show_text: bool) -> list[dict[str, Any]]:
    """Counts by service, error type and reason, with the oldest and newest age of each."""
    groups: dict[tuple[str, str, str], list[DeadLetter]] = {}
    for letter in letters:
        key = (letter.service, letter.error_type, letter.reason(show_text=show_text))
        groups.setdefault(key, []).append(letter)
    rows = []
    for (service, error_type, reason), members in sorted(
        groups.items(), key=lambda kv: (-len(kv[1]), kv[0])
    ):
        ages = [m.age(now) for m in members]
        rows.append(
            {
                "service": service,
                "error_type": error_type,
                "reason": reason,
                "count": len(members),
                "replayed": sum(1 for m in members if m.replay_count),
                "oldest": _age(max(ages)),
                "newest": _age(min(ages)),
            }
        )
    return rows


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def print_table(rows: list[dict[str, Any]], columns: list[str], out: TextIO) -> None:
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns}
    widths[columns[-1]] = 0  # the last column runs to the end of the line
    out.write("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip() + "\n")
    for row in rows:
        out.write("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip() + "\n")


async def run_list(args: argparse.Namespace, kafka: KafkaSettings, out: TextIO) -> int:
    topic = dlq_topic(args)
    letters, _ = await read_dead_letters(kafka, topic, selection_from(args))
    rows = summarize(letters, now=datetime.now(UTC), show_text=args.show_text)
    if args.json:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        out.write(f"{len(letters)} dead letters on {topic}\n")
        if rows:
            cols = ["count", "replayed", "service", "error_type", "oldest", "newest", "reason"]
            print_table(rows, cols, out)
    return 0


# -- show ---------------------------------------------------------------------------------


def describe(letter: DeadLetter, *, show_text: bool) -> dict[str, Any]:
    """One record's reason and headers; its value (user text) only with `show_text`."""
    doc: dict[str, Any] = {
        "dlq": letter.coordinates,
        "timestamp": letter.timestamp.isoformat(),
        "service": letter.service,
        "error_type": letter.error_type,
        "reason": letter.reason(show_text=show_text),
        "retriable": letter.header(dlq.ERROR_RETRIABLE),
        "attempts": letter.header(dlq.ATTEMPTS),
        "source": letter.source,
        "failed_at": letter.header(dlq.FAILED_AT),
        "replay_count": letter.replay_count,
        "origin": letter.origin,
        "value_bytes": len(letter.value or b""),
        # Keys are ids (user, thread, stack), as on every topic; header values are ids too.
        "key": letter.key.decode("utf-8", errors="replace") if letter.key else None,
        "headers": {
            k: v.decode("utf-8", errors="replace")
            for k, v in letter.headers
            if k != dlq.ERROR_MESSAGE
        },
    }
    if show_text:
        doc["value"] = (letter.value or b"").decode("utf-8", errors="replace")
    return doc


async def run_show(args: argparse.Namespace, kafka: KafkaSettings, out: TextIO) -> int:
    at = OffsetRange.parse(args.at)
    if at.first != at.last:
        raise SystemExit("show takes one record: PARTITION:OFFSET")
    letters, _ = await read_dead_letters(kafka, dlq_topic(args), Selection(offsets=(at,)))
    if not letters:
        print(f"no dead letter at {args.at}", file=sys.stderr)
        return 1
    doc = describe(letters[0], show_text=args.show_text)
    if args.json:
        out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    else:
        for key, value in doc.items():
            if key == "headers":
                out.write("headers:\n")
                for name, text in value.items():
                    out.write(f"  {name}: {text}\n")
            else:
                out.write(f"{key}: {value}\n")
    return 0


# -- replay -------------------------------------------------------------------------------


@dataclass
class ReplayReport:
    selected: int = 0
    replayed: int = 0
    over_limit: int = 0
    superseded: int = 0  # an older copy of an origin also selected in this run
    no_source: int = 0
    dry_run: bool = False
    by_topic: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        verb = "would replay" if self.dry_run else "replayed"
        topics = ", ".join(f"{t}={n}" for t, n in sorted(self.by_topic.items())) or "-"
        return (
            f"selected={self.selected} {verb.replace(' ', '_')}={self.replayed} "
            f"skipped_over_limit={self.over_limit} skipped_superseded={self.superseded} "
            f"skipped_no_source={self.no_source} topics: {topics}"
        )


def replay_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The original headers (the runtime's failure description removed), plus the count."""
    kept = [(k, v) for k, v in letter.headers if not k.startswith("cairn.")]
    return [
        *kept,
        (dlq.REPLAY_COUNT, str(letter.replay_count + 1).encode()),
        (dlq.REPLAY_ORIGIN, letter.origin.encode()),
    ]


def plan(letters: list[DeadLetter], *, max_replays: int, report: ReplayReport) -> list[DeadLetter]:
    """What to re-produce: one record per origin (the most replayed), within the limit."""
    report.selected = len(letters)
    latest: dict[str, DeadLetter] = {}
    for letter in letters:
        seen = latest.get(letter.origin)
        if seen is None or (letter.replay_count, letter.timestamp) > (
            seen.replay_count,
            seen.timestamp,
        ):
            latest[letter.origin] = letter
    report.superseded = len(letters) - len(latest)
    chosen = []
    for letter in sorted(latest.values(), key=lambda d: (d.partition, d.offset)):
        if letter.replay_count >= max_replays:
            report.over_limit += 1
        elif not letter.source_topic:
            report.no_source += 1
        else:
            chosen.append(letter)
    return chosen


async def replay(
    kafka: KafkaSettings,
    topic: str,
    selection: Selection,
    *,
    max_replays: int = DEFAULT_MAX_REPLAYS,
    rate_per_s: float = DEFAULT_RATE_PER_S,
    dry_run: bool = False,
    group: str | None = None,
    on_record: Any = None,
) -> ReplayReport:
    """Re-produce the selected dead letters; see the module docstring for the rules."""
    report = ReplayReport(dry_run=dry_run)
    start_at = await _group_positions(kafka, topic, group) if group else None
    letters, end = await read_dead_letters(kafka, topic, selection, start_at=start_at)
    chosen = plan(letters, max_replays=max_replays, report=report)
    if not dry_run and chosen:
        producer = make_producer(kafka, client_id="cairn-dlq-replay")
        await producer.start()
        try:
            started = time.monotonic()
            for i, letter in enumerate(chosen):
                # Paced by schedule: the rate holds however long each send takes.
                delay = started + i / rate_per_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await producer.send_and_wait(
                    str(letter.source_topic),
                    value=letter.value,
                    key=letter.key,
                    headers=replay_headers(letter),
                )
                report.replayed += 1
                report.by_topic[str(letter.source_topic)] += 1
                if on_record:
                    on_record(letter)
        finally:
            await producer.stop()
    else:
        report.replayed = len(chosen)
        for letter in chosen:
            report.by_topic[str(letter.source_topic)] += 1
            if on_record:
                on_record(letter)
    if group and not dry_run:
        await _commit_group(kafka, topic, group, end)
    return report


async def _group_positions(kafka: KafkaSettings, topic: str, group: str) -> dict[int, int]:
    consumer = _group_consumer(kafka, group)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        positions = {}
        for p in consumer.partitions_for_topic(topic) or ():
            committed = await consumer.committed(TopicPartition(topic, p))
            if committed is not None:
                positions[p] = committed
        return positions
    finally:
        await consumer.stop()


async def _commit_group(kafka: KafkaSettings, topic: str, group: str, end: dict[int, int]) -> None:
    """Mark everything read in this run as examined by `group` (it was selected or not)."""
    if not end:
        return
    consumer = _group_consumer(kafka, group)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in end]
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(end[tp.partition], "") for tp in tps})
    finally:
        await consumer.stop()


def _group_consumer(kafka: KafkaSettings, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **connection_kwargs(kafka),
        client_id="cairn-dlq-replay",
        group_id=group,
        enable_auto_commit=False,
    )


async def run_replay(args: argparse.Namespace, kafka: KafkaSettings, out: TextIO) -> int:
    if args.rate <= 0:
        raise SystemExit("--rate must be positive")

    def emit(letter: DeadLetter) -> None:
        doc = {
            "dlq": letter.coordinates,
            "to": letter.source_topic,
            "service": letter.service,
            "error_type": letter.error_type,
            "replay_count": letter.replay_count + 1,
            "origin": letter.origin,
        }
        if args.json:
            out.write(json.dumps(doc) + "\n")
        else:
            verb = "would replay" if args.dry_run else "replayed"
            out.write(
                f"{verb} {doc['dlq']} → {doc['to']} ({doc['service']}, {doc['error_type']}, "
                f"replay {doc['replay_count']})\n"
            )
        out.flush()

    report = await replay(
        kafka,
        dlq_topic(args),
        selection_from(args),
        max_replays=args.max_replays,
        rate_per_s=args.rate,
        dry_run=args.dry_run,
        group=args.group,
        on_record=emit,
    )
    out.write(report.line() + "\n")
    return 0


# -- the command line ---------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("dlq", help="inspect and replay the dead-letter topic")
    dlq_sub = parser.add_subparsers(dest="dlq_command", required=True)
    listing = dlq_sub.add_parser("list", help="counts by service, error type, reason and age")
    add_selection_arguments(listing)
    show = dlq_sub.add_parser("show", help="one record's reason and headers")
    show.add_argument("at", help="PARTITION:OFFSET on the DLQ")
    show.add_argument("--topic", help="dead-letter topic (default: CAIRN_DLQ_TOPIC)")
    show.add_argument("--json", action="store_true")
    show.add_argument("--show-text", action="store_true", help="also print the value")
    rep = dlq_sub.add_parser("replay", help="re-produce selected records to their topics")
    add_selection_arguments(rep)
    rep.add_argument("--dry-run", action="store_true", help="print the plan, produce nothing")
    rep.add_argument(
        "--max-replays",
        type=int,
        default=DEFAULT_MAX_REPLAYS,
        help="skip records already replayed this many times",
    )
    rep.add_argument("--rate", type=float, default=DEFAULT_RATE_PER_S, help="events per second")
    rep.add_argument(
        "--group", help="consumer group on the DLQ: start after, and commit, what it examined"
    )


async def run(
    args: argparse.Namespace, out: TextIO = sys.stdout, kafka: KafkaSettings | None = None
) -> int:
    kafka = kafka or KafkaSettings()
    command = {"list": run_list, "show": run_show, "replay": run_replay}[args.dlq_command]
    return await command(args, kafka, out)
