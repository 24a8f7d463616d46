"""`python -m schemas.export [--check]`: JSON Schema per contract + one AsyncAPI 3.0 document.

The exports are committed (schemas/generated/) so that apps can code-generate clients without
Python; a test fails when they are stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.emoji import EmojiGenRequest, EmojiGenResult
from schemas.rewrite import RewriteRequest, RewriteResult
from schemas.summarize import SummarizeRequest, SummarizeResult
from schemas.topics import DLQ_TOPIC, Feature, request_topic, result_topic

GENERATED = Path(__file__).resolve().parent / "generated"

CONTRACTS: dict[Feature, tuple[type[BaseModel], type[BaseModel], str]] = {
    Feature.SUMMARIZE: (
        SummarizeRequest,
        SummarizeResult,
        "A stack of notifications (one app, one thread) becomes one short, verified summary.",
    ),
    Feature.REWRITE: (
        RewriteRequest,
        RewriteResult,
        "Writing tools: proofread, rewrite in a tone, summary, key points, list, table, "
        "free-form instruction.",
    ),
    Feature.EMOJI: (
        EmojiGenRequest,
        EmojiGenResult,
        "A description becomes the best emoji and Genmoji-style sticker images.",
    ),
}


def _name(feature: Feature, kind: str) -> str:
    return f"{feature.value}.{kind}.v1"


def json_schemas() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for feature, (req, res, _) in CONTRACTS.items():
        out[_name(feature, "request")] = req.model_json_schema(mode="validation")
        out[_name(feature, "result")] = res.model_json_schema(mode="serialization")
    return out


def asyncapi(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for feature, (_, _, description) in CONTRACTS.items():
        for kind, topic, action in (
            ("request", request_topic(feature), "send"),
            ("result", result_topic(feature), "receive"),
        ):
            msg = f"{feature.value}_{kind}"
            messages[msg] = {
                "name": msg,
                "title": f"{feature.value} {kind} v1",
                "contentType": "application/json",
                "payload": {"$ref": f"./{_name(feature, kind)}.json"},
                "headers": {
                    "type": "object",
                    "properties": {
                        "traceparent": {"type": "string", "description": "W3C trace context"},
                        "tracestate": {"type": "string"},
                    },
                },
                "bindings": {
                    "kafka": {"key": {"type": "string", "description": "user, thread or stack id"}}
                },
            }
            channels[msg] = {
                "address": topic,
                "description": description,
                "messages": {msg: {"$ref": f"#/components/messages/{msg}"}},
            }
            operations[f"{action}_{msg}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{msg}"},
                "summary": f"Apps {action} {feature.value} {kind}s.",
            }
    channels["dead_letters"] = {
        "address": DLQ_TOPIC,
        "description": "Events that could not be processed: the original bytes and headers plus "
        "cairn.error.type, cairn.error.message, cairn.error.retriable, cairn.source.topic, "
        "cairn.source.partition, cairn.source.offset, cairn.attempts, cairn.service, "
        "cairn.failed_at.",
        "messages": {"dead_letter": {"$ref": "#/components/messages/dead_letter"}},
    }
    messages["dead_letter"] = {
        "name": "dead_letter",
        "contentType": "application/octet-stream",
        "payload": {"description": "The original event bytes, unchanged."},
    }
    operations["receive_dead_letters"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/dead_letters"},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Cairn events",
            "version": "1.0.0",
            "description": "Request and result events of Cairn's assistant features. Topics are "
            "cairn.<feature>.<requests|results>.v<major>; a breaking change gets a new major.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered() -> dict[str, str]:
    schemas = json_schemas()
    files = {f"{name}.json": schema for name, schema in schemas.items()}
    files["asyncapi.json"] = asyncapi(schemas)
    return {name: json.dumps(doc, indent=2, sort_keys=True) + "\n" for name, doc in files.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the exports are stale")
    args = parser.parse_args(argv)
    files = rendered()
    if args.check:
        stale = [
            n
            for n, text in files.items()
            if not (GENERATED / n).exists() or (GENERATED / n).read_text() != text
        ]
        if stale:
            print(f"stale exports: {stale}; run `make schemas`", file=sys.stderr)
            return 1
        return 0
    GENERATED.mkdir(exist_ok=True)
    for old in GENERATED.glob("*.json"):
        if old.name not in files:
            old.unlink()
    for name, text in files.items():
        (GENERATED / name).write_text(text)
    print(f"wrote {len(files)} files to {GENERATED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
