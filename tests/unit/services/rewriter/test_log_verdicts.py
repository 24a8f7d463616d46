"""A rejected draft's verdict quotes the text it judges: only its kind is logged at INFO+.

A scripted local model invents a name and drops a number, so the guards' verdicts are
known; the production JSON formatter writes the lines that are searched.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from schemas.rewrite import Tone, WritingOperation
from services.rewriter.lints import LintChecker
from shared.observability.logging import JsonFormatter
from tests.unit.services.rewriter.fakes import ScriptedGenerator
from tests.unit.services.rewriter.test_handler import _handler, _request

TEXT = "Hi Zqbenvx, I will send you the 4111 slides by Thursday. Thanks, Zqannavx"
# Same length, a new name in, the number out: "invented name" and "dropped number".
DRAFT = "Hi Zqbenvx, I will send Zqinventedvx the slides on Thursday. Thanks, Zqannavx"
SENTINELS = ("zqbenvx", "zqannavx", "zqinventedvx", "4111")


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)


async def test_verdict_details_only_at_debug(checker: LintChecker, lines: io.StringIO) -> None:
    handler = _handler(ScriptedGenerator([DRAFT]), checker)
    await handler(_request(WritingOperation.REWRITE, TEXT, tone=Tone.FRIENDLY))

    docs = [json.loads(line) for line in lines.getvalue().splitlines()]
    ours = [d for d in docs if d["logger"].startswith(("services.", "shared."))]
    loud = [d for d in ours if d["level"] != "DEBUG"]
    quiet = [d for d in ours if d["level"] == "DEBUG"]
    assert any("): invented" in d["msg"] for d in loud), [d["msg"] for d in loud]
    for doc in loud:
        for secret in SENTINELS:
            assert secret not in json.dumps(doc, ensure_ascii=False).lower(), doc
    # The details are there for whoever turns DEBUG on: the test can see a leak.
    assert any("zqinventedvx" in d["msg"].lower() for d in quiet)
