"""`cairn results show <tenant> <request_id>` (or `--stack ID`, `--user ID`): what happened to
a request, from the database: status, tier, reasons, verifier verdict, latency, tokens, cost.

Every query filters on the tenant as well as the id, so a request_id (or stack, or user) that
another tenant also uses never shows up; every feature's match is printed. The session is
read-only (PostgreSQL `SET TRANSACTION READ ONLY`, SQLite `PRAGMA query_only`). User text
(the stored input, where CAIRN_STORE_INPUT_TEXT kept it, and the published output) is printed
only with `--show-text`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.config import CoreSettings, DatabaseSettings
from shared.persistence.engine import create_engine
from shared.persistence.errors import translate_db_errors
from shared.persistence.models import ResultRecord

DEFAULT_LIMIT = 20
AUDIT_FIELDS = (
    "request_id",
    "feature",
    "tenant_id",
    "user_id",
    "subject_key",
    "status",
    "tier",
    "model",
    "reasons",
    "verified",
    "degraded_reason",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "input_sha256",
    "occurred_at",
    "created_at",
)


def row_document(row: Mapping[str, Any], *, show_text: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name in AUDIT_FIELDS:
        value = row[name]
        doc[name] = value.isoformat() if hasattr(value, "isoformat") else value
    doc["input_text_stored"] = row["input_text"] is not None
    if show_text:
        output = row["output"] or {}
        doc["input_text"] = row["input_text"]
        doc["result"] = output.get("result")
        doc["error"] = output.get("error")
    return doc


async def _read_only(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET TRANSACTION READ ONLY"))
    elif conn.dialect.name == "sqlite":
        await conn.execute(text("PRAGMA query_only = ON"))


async def find(
    url: str,
    tenant: str,
    *,
    request_id: str | None = None,
    stack: str | None = None,
    user: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Mapping[str, Any]]:
    """Stored results of `tenant` for one request, stack or user (newest first)."""
    stmt = select(*ResultRecord.__table__.columns).where(ResultRecord.tenant_id == tenant)
    if request_id is not None:
        stmt = stmt.where(ResultRecord.request_id == request_id)
    elif stack is not None:
        stmt = stmt.where(ResultRecord.subject_key == stack)
    elif user is not None:
        stmt = stmt.where(ResultRecord.user_id == user)
    else:
        raise ValueError("give a request_id, a stack or a user")
    stmt = stmt.order_by(ResultRecord.id.desc()).limit(limit)
    engine = create_engine(url)
    try:
        async with translate_db_errors(), engine.connect() as conn:
            await conn.begin()
            await _read_only(conn)
            rows = (await conn.execute(stmt)).all()
            await conn.rollback()
        return [dict(row._mapping) for row in rows]
    finally:
        await engine.dispose()


def print_human(docs: list[dict[str, Any]], out: TextIO) -> None:
    for i, doc in enumerate(docs):
        if i:
            out.write("\n")
        out.write(f"{doc['feature']} {doc['request_id']}: {doc['status']} via {doc['tier']}\n")
        reasons = ", ".join(doc["reasons"]) or "-"
        verdict = "verified" if doc["verified"] else "not verified"
        if doc["degraded_reason"]:
            verdict += f", degraded: {doc['degraded_reason']}"
        out.write(f"  model: {doc['model']}\n  reasons: {reasons}\n  verdict: {verdict}\n")
        out.write(
            f"  latency: {doc['latency_ms']:.0f} ms  tokens: {doc['prompt_tokens']} prompt + "
            f"{doc['completion_tokens']} completion  cost: ${doc['cost_usd']:.6f}\n"
        )
        out.write(
            f"  user: {doc['user_id']}  subject: {doc['subject_key'] or '-'}  "
            f"occurred: {doc['occurred_at']}  stored: {doc['created_at']}\n"
        )
        out.write(f"  input sha256: {doc['input_sha256']}\n")
        if "input_text" in doc:
            stored = doc["input_text"] if doc["input_text"] is not None else "(not stored)"
            out.write(f"  input: {stored}\n")
            out.write(f"  result: {json.dumps(doc['result'], ensure_ascii=False)}\n")
            if doc["error"]:
                out.write(f"  error: {doc['error']}\n")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("results", help="stored results of a request, stack or user")
    results_sub = parser.add_subparsers(dest="results_command", required=True)
    show = results_sub.add_parser("show", help="status, tier, reasons, verdict, latency, cost")
    show.add_argument("tenant")
    show.add_argument("request_id", nargs="?")
    show.add_argument("--stack", help="a notification stack (subject) id instead")
    show.add_argument("--user", help="a user id instead")
    show.add_argument("--limit", type=int, default=DEFAULT_LIMIT)
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    show.add_argument(
        "--show-text", action="store_true", help="also print stored input text and the result"
    )


async def run(args: argparse.Namespace, out: TextIO = sys.stdout, url: str | None = None) -> int:
    chosen = [x for x in (args.request_id, args.stack, args.user) if x is not None]
    if len(chosen) != 1:
        raise SystemExit("give exactly one of: a request_id, --stack ID, --user ID")
    url = url or DatabaseSettings().resolved_url(CoreSettings())
    rows = await find(
        url,
        args.tenant,
        request_id=args.request_id,
        stack=args.stack,
        user=args.user,
        limit=args.limit,
    )
    docs = [row_document(r, show_text=args.show_text) for r in rows]
    if not docs:
        print(f"no stored result for tenant {args.tenant!r} and that id", file=sys.stderr)
        return 1
    if args.json:
        for doc in docs:
            out.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
    else:
        print_human(docs, out)
    return 0
