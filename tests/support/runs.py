"""Counting handler executions per request_id, across processes that may be SIGKILLed.

`CountingHandler` wraps a service's real handler. Each call appends `S <request_id>` before
the work starts and `D <request_id>` once it has finished, with one unbuffered O_APPEND write
each, so a line written is in the file even if the process is killed the next instant.
A request_id started more than once is a recomputation: work that was done (or begun) and
thrown away, because the worker died before the result was stored, or a retry ran it again.
Redeliveries of results already stored are answered from the database and never start the
handler, so they do not count.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.envelope import RequestEnvelope
from shared.messaging.handler import Handler, HandlerResult, Lifespan, ServiceContext, ServiceSpec


class CountingHandler:
    def __init__(self, inner: Handler, path: Path | None = None) -> None:
        self._inner = inner
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path else None
        self.started: Counter[str] = Counter()
        self.done: Counter[str] = Counter()

    def _mark(self, kind: str, request_id: str) -> None:
        (self.started if kind == "S" else self.done)[request_id] += 1
        if self._fd is not None:
            os.write(self._fd, f"{kind} {request_id}\n".encode())

    async def __call__(self, request: RequestEnvelope[Any]) -> HandlerResult[Any]:
        self._mark("S", request.request_id)
        result = await self._inner(request)
        self._mark("D", request.request_id)
        return result

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def counted_spec(spec: ServiceSpec[Any, Any], path: Path) -> ServiceSpec[Any, Any]:
    """`spec` whose lifespan wraps the real handler in a `CountingHandler` writing to `path`."""
    inner: Lifespan = spec.lifespan

    @asynccontextmanager
    async def lifespan(ctx: ServiceContext) -> AsyncIterator[Handler]:
        async with inner(ctx) as handler:
            counting = CountingHandler(handler, path)
            try:
                yield counting
            finally:
                counting.close()

    return ServiceSpec(
        name=spec.name,
        feature=spec.feature,
        request_model=spec.request_model,
        result_model=spec.result_model,
        lifespan=lifespan,
        input_topic=spec.input_topic,
        output_topic=spec.output_topic,
    )


@dataclass
class Runs:
    """Handler starts and completions per request_id, summed over workers."""

    started: Counter[str] = field(default_factory=Counter)
    done: Counter[str] = field(default_factory=Counter)

    @classmethod
    def read(cls, paths: Iterable[Path]) -> Runs:
        runs = cls()
        for path in paths:
            if not path.exists():
                continue
            for line in path.read_text().splitlines():
                kind, _, request_id = line.partition(" ")
                (runs.started if kind == "S" else runs.done)[request_id] += 1
        return runs

    @classmethod
    def of(cls, *handlers: CountingHandler) -> Runs:
        runs = cls()
        for h in handlers:
            runs.started.update(h.started)
            runs.done.update(h.done)
        return runs

    @property
    def recomputed(self) -> int:
        """Handler runs beyond the first per request_id (begun again after a loss)."""
        return sum(n - 1 for n in self.started.values())

    @property
    def recomputed_done(self) -> int:
        """Completed runs beyond the first per request_id (finished work thrown away)."""
        return sum(n - 1 for n in self.done.values() if n > 1)
