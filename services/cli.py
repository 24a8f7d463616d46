"""The `cairn` command: offline batches, the dead-letter topic, stored results.

`cairn batch <feature> --in requests.jsonl --out results.jsonl`: each input line is a request
event exactly as produced to the feature's request topic; each output line is the result event
exactly as it would be published. Same handler, same routing, no Kafka. Lines that fail to
validate, or whose handler gives up, go to `--errors` (default: <out>.errors.jsonl) with the
line number and the reason — nothing is dropped.

`cairn dlq list|show|replay` (services/ops/dlq.py) and `cairn results show`
(services/ops/results.py) are the operator's commands; see docs/operations.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from services.ops import dlq as ops_dlq
from services.ops import results as ops_results
from shared.config import CoreSettings, DatabaseSettings
from shared.errors import InvalidEventError, PermanentError
from shared.messaging.codec import decode
from shared.messaging.handler import Handler, ServiceContext, ServiceSpec
from shared.messaging.handling import HandlerGaveUp, handle_with_retries, result_document
from shared.messaging.settings import RuntimeSettings
from shared.observability.logging import configure_logging
from shared.persistence.budget import SqlBudgetStore
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from shared.routing.budget import utc_today

log = logging.getLogger(__name__)

SPECS = {
    "summarize": "services.summarizer.spec",
    "rewrite": "services.rewriter.spec",
    "emoji": "services.emoji.spec",
}
DEFAULT_CONCURRENCY = 16  # enough to fill the local model's micro-batches


def load_spec(feature: str) -> ServiceSpec[Any, Any]:
    try:
        module = importlib.import_module(SPECS[feature])
    except KeyError:
        raise SystemExit(f"unknown feature {feature!r}; choose from {sorted(SPECS)}") from None
    spec: ServiceSpec[Any, Any] = module.SPEC
    return spec


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield number, line.rstrip(b"\r\n")


async def run_batch(
    spec: ServiceSpec[Any, Any],
    handler: Handler,
    src: Path,
    out: Path,
    errors: Path,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool = True,
) -> tuple[int, int]:
    """Process every line of `src`; results keep input order. Returns (ok, failed)."""
    settings = RuntimeSettings()
    lines = list(_lines(src))
    slots = asyncio.Semaphore(concurrency)

    async def one(number: int, raw: bytes) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        async with slots:
            try:
                request = decode(raw, spec.request_model)
                result = await handle_with_retries(handler, request, settings, service=spec.name)
                return result_document(spec, request, result), None
            except InvalidEventError as exc:
                return None, {"line": number, "error": "InvalidEventError", "reason": str(exc)}
            except HandlerGaveUp as exc:
                return None, {
                    "line": number,
                    "error": type(exc.cause).__name__,
                    "reason": str(exc.cause),
                    "attempts": exc.attempts,
                }
            except PermanentError as exc:
                return None, {"line": number, "error": type(exc).__name__, "reason": str(exc)}

    tasks = [asyncio.create_task(one(n, raw)) for n, raw in lines]
    ok = failed = 0
    with (
        out.open("w", encoding="utf-8") as out_fh,
        errors.open("w", encoding="utf-8") as err_fh,
        tqdm(total=len(tasks), unit="req", disable=not progress, file=sys.stderr) as bar,
    ):
        for task in tasks:  # in input order; later ones keep running meanwhile
            doc, error = await task
            if doc is not None:
                out_fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
                ok += 1
            else:
                err_fh.write(json.dumps(error, ensure_ascii=False) + "\n")
                failed += 1
            bar.update(1)
    return ok, failed


async def ledger_context(
    core: CoreSettings, repository: ResultRepository, *, with_state: bool
) -> ServiceContext:
    """The services' context: the database spend ledger (so batch jobs and the Kafka
    services share one budget per tenant), and earlier results only when asked."""
    store = SqlBudgetStore(repository)
    try:
        await store.spent("", utc_today())
    except Exception as exc:
        raise SystemExit(
            f"the spend ledger in the database is unavailable ({type(exc).__name__}); "
            "run `make migrate` (or set DATABASE_URL) first"
        ) from exc
    return ServiceContext(core=core, state=repository if with_state else None, budget_store=store)


async def _batch(args: argparse.Namespace) -> int:
    spec = load_spec(args.feature)
    core = CoreSettings()
    errors = args.errors or args.out.with_name(args.out.name + ".errors.jsonl")
    engine = create_engine(DatabaseSettings().resolved_url(core))
    try:
        ctx = await ledger_context(core, ResultRepository(engine), with_state=args.with_state)
        async with spec.lifespan(ctx) as handler:
            ok, failed = await run_batch(
                spec, handler, args.input, args.out, errors, concurrency=args.concurrency
            )
    finally:
        await engine.dispose()
    print(f"{ok} results → {args.out}; {failed} failed → {errors}", file=sys.stderr)
    return 0 if failed == 0 else 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cairn", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    batch = sub.add_parser("batch", help="run a feature over a JSONL file, without Kafka")
    batch.add_argument("feature", choices=sorted(SPECS))
    batch.add_argument("--in", dest="input", type=Path, required=True)
    batch.add_argument("--out", type=Path, required=True)
    batch.add_argument("--errors", type=Path, default=None)
    batch.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    batch.add_argument(
        "--with-state",
        action="store_true",
        help="read earlier results from the database (incremental summaries)",
    )
    ops_dlq.add_parser(sub)
    ops_results.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    core = CoreSettings()
    configure_logging("WARNING" if core.log_level == "INFO" else core.log_level, json_lines=True)
    if args.command == "dlq":
        sys.exit(asyncio.run(ops_dlq.run(args)))
    if args.command == "results":
        sys.exit(asyncio.run(ops_results.run(args)))
    sys.exit(asyncio.run(_batch(args)))


if __name__ == "__main__":
    main()
