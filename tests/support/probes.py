"""Plain HTTP GETs of a service's health port, as an orchestrator's probe makes them."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


def _get(port: int, path: str, timeout_s: float) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def probe(port: int, path: str, *, timeout_s: float = 15.0) -> tuple[int, dict[str, Any]]:
    """(status code, JSON body); raises URLError (connection refused) if nothing listens."""
    return await asyncio.to_thread(_get, port, path, timeout_s)


def check(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The named check of a probe's body."""
    matches = [c for c in body["checks"] if c["name"] == name]
    assert matches, f"no check {name!r} in {body}"
    return matches[0]


async def wait_probe(
    port: int,
    path: str,
    until: Callable[[int, dict[str, Any]], bool],
    *,
    timeout_s: float = 30.0,
) -> tuple[int, dict[str, Any]]:
    """Probe every 0.1 s until `until(status, body)`; the last answer on timeout."""
    deadline = time.monotonic() + timeout_s
    status, body = await probe(port, path)
    while not until(status, body) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        status, body = await probe(port, path)
    return status, body
