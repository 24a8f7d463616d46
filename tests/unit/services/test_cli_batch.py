"""`cairn batch`: same handler and envelopes as the Kafka path, nothing dropped."""

from __future__ import annotations

import json
from pathlib import Path

from services.cli import run_batch
from tests.support.echo import ECHO_SPEC, EchoHandler
from tests.support.events import echo_event


async def test_batch_keeps_order_and_reports_bad_lines(tmp_path: Path) -> None:
    good = [echo_event(i) for i in range(30)]
    flaky = echo_event(100, fail="transient", fail_times=1)
    broken = echo_event(101, fail="permanent")
    lines = [json.dumps(e) for e in good[:10]]
    lines += ["{not json", json.dumps(flaky), json.dumps(broken)]
    lines += [json.dumps(e) for e in good[10:]]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n\n")
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"

    ok, failed = await run_batch(ECHO_SPEC, EchoHandler(), src, out, errors, progress=False)

    assert (ok, failed) == (31, 2)
    results = [json.loads(line) for line in out.read_text().splitlines()]
    expected = [e["request_id"] for e in good[:10]] + [flaky["request_id"]]
    expected += [e["request_id"] for e in good[10:]]
    assert [r["request_id"] for r in results] == expected
    assert results[10]["result"] == {"text": "hello 100", "attempts": 2}
    assert all(r["feature"] == "echo" and r["status"] == "ok" for r in results)
    errs = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(e["line"], e["error"]) for e in errs] == [
        (11, "InvalidEventError"),
        (13, "PermanentError"),
    ]
