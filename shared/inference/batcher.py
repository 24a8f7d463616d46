"""Micro-batching of concurrent requests onto one model worker thread.

Like aiokafka's message accumulator: requests wait in per-bucket queues; a batch goes when a
bucket reaches `max_batch_size` (size cap) or its oldest request has waited `max_wait_ms`
(linger), whichever is first, and never before the worker is free — while it computes, the
next batch accumulates. A batch is topped up from the nearest other buckets (smaller first)
rather than run half-empty, since a shorter prompt always fits a longer shape.

Admission is bounded: `queue_size` requests admitted and unfinished; the next caller gets
`Overloaded` at once. A caller's timeout or cancellation releases its slot immediately and
the worker drops the row at its next step (or skips it if it has not started).

The collector task is supervised: if it crashes (a backend returning the wrong number of
results, a bug here), the callers of the batch in hand get `BatcherCrashed` (retriable) and
the collector restarts for the requests still queued. After `max_restarts` crashes within
`restart_window_s` the batcher is marked failed: every waiting and new caller gets
`BatcherFailed` (retriable: another replica can serve), and the process's /healthz and
/readyz report it, so the orchestrator restarts the process and reloads the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared.errors import Overloaded, TransientError
from shared.inference.backends.base import BatchOutcome
from shared.inference.types import BatcherStats
from shared.observability.health import Check, register_component, unregister_component

log = logging.getLogger(__name__)

P = TypeVar("P")
R = TypeVar("R")

_SAMPLES = 4096  # queue waits kept for percentiles
# A crash or two is survivable; a collector that keeps crashing will not heal by itself.
MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0
RESTART_DELAY_S = 0.05


class BatcherClosed(TransientError):
    """The model is shutting down; another replica can serve the request."""


class BatcherCrashed(TransientError):
    """The collector crashed while this request's batch was in hand; retry it."""


class BatcherFailed(TransientError):
    """The collector crashed too often; this process cannot serve the model any more."""


class Job(Generic[P]):
    """One admitted request, as the worker thread sees it."""

    __slots__ = ("bucket", "cancelled", "enqueued", "future", "payload", "started")

    def __init__(self, payload: P, bucket: int, future: asyncio.Future[Any]) -> None:
        self.payload = payload
        self.bucket = bucket
        self.future = future
        self.enqueued = time.monotonic()
        self.started: float | None = None
        # Written on the loop thread, read by the worker between decode steps (a bool
        # assignment is atomic under the GIL, so no lock).
        self.cancelled = False


@dataclass(frozen=True)
class Completed(Generic[R]):
    """A result with the timings of the batch that produced it."""

    value: R
    queue_ms: float
    compute_ms: float
    batch_size: int


Runner = Callable[[list[Job[P]]], BatchOutcome[R]]


class MicroBatcher(Generic[P, R]):
    """Collects jobs on the event loop, runs batches with `runner` in one worker thread."""

    def __init__(
        self,
        name: str,
        runner: Runner[P, R],
        *,
        max_batch_size: int,
        max_wait_ms: float,
        queue_size: int,
        max_restarts: int = MAX_RESTARTS,
        restart_window_s: float = RESTART_WINDOW_S,
    ) -> None:
        self.name = name
        self._runner = runner
        self._max_batch = max_batch_size
        self._max_wait = max_wait_ms / 1000.0
        self._queue_size = queue_size
        self._pending: dict[int, deque[Job[P]]] = {}
        self._admitted = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._max_restarts = max_restarts
        self._restart_window_s = restart_window_s
        self._crashes: deque[float] = deque()
        self.restarts = 0
        self.failure: str | None = None  # set once the batcher gave up (see BatcherFailed)
        self._in_hand: list[Job[P]] = []  # taken from the queues, results not yet delivered
        # One thread per model: torch already uses every core inside a forward pass.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")
        self._task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"batcher-{name}"
        )
        register_component(self)
        self._running: list[Job[P]] = []
        # metrics
        self._requests = self._batches = self._rows = 0
        self._rejected = self._timed_out = self._cancelled = 0
        self._positions = self._real = self._generated = 0
        self._compute_s = 0.0
        self._waits: deque[float] = deque(maxlen=_SAMPLES)

    # -- callers -----------------------------------------------------------------------------
    async def submit(
        self, payload: P, bucket: int, *, timeout_s: float | None = None
    ) -> Completed[R]:
        """Queue one request and wait for its result.

        Raises Overloaded at once when `queue_size` requests are already admitted,
        TimeoutError after `timeout_s`, BatcherClosed after close().
        """
        if self.failure is not None:
            raise BatcherFailed(f"model {self.name}: {self.failure}")
        if self._closing:
            raise BatcherClosed(f"model {self.name} is closing")
        if self._admitted >= self._queue_size:
            self._rejected += 1
            raise Overloaded(f"model {self.name}: {self._admitted} requests in flight (limit)")
        future: asyncio.Future[Completed[R]] = asyncio.get_running_loop().create_future()
        job = Job(payload, bucket, future)
        self._admitted += 1
        self._requests += 1
        future.add_done_callback(lambda _f: self._release(job))
        self._pending.setdefault(bucket, deque()).append(job)
        self._wake.set()
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            self._timed_out += 1
            raise
        except asyncio.CancelledError:
            if future.cancelled():
                self._cancelled += 1
            raise

    def _release(self, job: Job[P]) -> None:
        # Runs once per job on the loop thread, whatever ended it.
        self._admitted -= 1
        if job.future.cancelled():
            job.cancelled = True

    # -- collector ---------------------------------------------------------------------------
    async def _supervise(self) -> None:
        """Run the collector; on a crash fail the batch in hand and restart, within limits."""
        while True:
            try:
                await self._collect()
                return  # closed
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                now = time.monotonic()
                self._crashes.append(now)
                while self._crashes and now - self._crashes[0] > self._restart_window_s:
                    self._crashes.popleft()
                log.error(
                    "model %s: collector crashed (%s), %d crash(es) in %.0fs",
                    self.name,
                    type(exc).__name__,
                    len(self._crashes),
                    self._restart_window_s,
                )
                log.debug("collector crash detail", exc_info=True)
                self._fail_jobs(self._in_hand, BatcherCrashed(f"model {self.name}: retry"))
                self._in_hand = []
                if len(self._crashes) > self._max_restarts:
                    self._give_up(f"collector crashed {len(self._crashes)} times")
                    return
                self.restarts += 1
                await asyncio.sleep(RESTART_DELAY_S)

    def _give_up(self, reason: str) -> None:
        self.failure = reason
        log.error("model %s: batcher failed (%s); refusing requests", self.name, reason)
        for queue in self._pending.values():
            self._fail_jobs(list(queue), BatcherFailed(f"model {self.name}: {reason}"))
        self._pending.clear()

    @staticmethod
    def _fail_jobs(jobs: Sequence[Job[P]], exc: Exception) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(exc)

    def health_check(self) -> Check:
        """For /healthz and /readyz: a failed batcher fails both (a restart reloads it)."""
        name = f"model:{self.name}"
        if self.failure is not None:
            return Check(name, False, f"batcher failed: {self.failure}")
        return Check(name, True, f"collector up, {self.restarts} restart(s)")

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            batch = self._take(time.monotonic())
            if batch is None:
                if self._closing:
                    return
                delay = self._next_linger(time.monotonic())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            self._in_hand = batch
            started = time.monotonic()
            for job in batch:
                job.started = started
            self._running = batch
            try:
                outcome = await loop.run_in_executor(self._executor, self._runner, batch)
            except Exception as exc:  # the whole batch failed: every caller hears why
                log.exception("model %s: batch of %d failed", self.name, len(batch))
                self._fail_jobs(batch, exc)
                self._in_hand = []
                continue
            finally:
                self._running = []
            if len(outcome.results) != len(batch):
                # Results pair with callers by position: never hand out a neighbour's row.
                # A backend bug, so a crash (the supervisor fails this batch, retriably).
                raise RuntimeError(f"{len(outcome.results)} results for {len(batch)} rows")
            compute = time.monotonic() - started
            self._record(batch, outcome, compute)
            for job, result in zip(batch, outcome.results, strict=True):
                if not job.future.done():
                    job.future.set_result(
                        Completed(
                            value=result,
                            queue_ms=(started - job.enqueued) * 1000.0,
                            compute_ms=compute * 1000.0,
                            batch_size=len(batch),
                        )
                    )
            self._in_hand = []

    def _take(self, now: float) -> list[Job[P]] | None:
        for bucket in list(self._pending):
            queue = self._pending[bucket]
            while queue and queue[0].future.done():
                queue.popleft()  # timed out or cancelled while waiting
            if queue and any(job.future.done() for job in queue):
                self._pending[bucket] = queue = deque(j for j in queue if not j.future.done())
            if not queue:
                del self._pending[bucket]
        if not self._pending:
            return None
        waiting = sum(len(q) for q in self._pending.values())
        oldest = min(self._pending, key=lambda b: self._pending[b][0].enqueued)
        full = [b for b, q in self._pending.items() if len(q) >= self._max_batch]
        if full:
            primary = min(full, key=lambda b: self._pending[b][0].enqueued)
        elif (
            self._closing
            or waiting >= self._max_batch
            or now - self._pending[oldest][0].enqueued >= self._max_wait
        ):
            primary = oldest
        else:
            return None
        batch: list[Job[P]] = []
        # Primary bucket first, then neighbours by distance, smaller before larger.
        order = sorted(self._pending, key=lambda b: (b != primary, b > primary, abs(b - primary)))
        for bucket in order:
            queue = self._pending[bucket]
            while queue and len(batch) < self._max_batch:
                batch.append(queue.popleft())
            if not queue:
                del self._pending[bucket]
            if len(batch) == self._max_batch:
                break
        return batch

    def _next_linger(self, now: float) -> float | None:
        if not self._pending:
            return None
        first = min(q[0].enqueued for q in self._pending.values())
        return max(0.0, first + self._max_wait - now)

    # -- metrics -----------------------------------------------------------------------------
    def _record(self, batch: Sequence[Job[P]], outcome: BatchOutcome[R], compute: float) -> None:
        self._batches += 1
        self._rows += len(batch)
        self._positions += outcome.positions
        self._real += outcome.real
        self._generated += outcome.generated
        self._compute_s += compute
        for job in batch:
            if job.started is not None:
                self._waits.append((job.started - job.enqueued) * 1000.0)

    def stats(self) -> BatcherStats:
        waits = sorted(self._waits)

        def pct(q: float) -> float:
            return waits[min(len(waits) - 1, int(q * len(waits)))] if waits else 0.0

        return BatcherStats(
            model=self.name,
            requests=self._requests,
            batches=self._batches,
            mean_batch_size=self._rows / self._batches if self._batches else 0.0,
            queue_wait_p50_ms=pct(0.50),
            queue_wait_p95_ms=pct(0.95),
            padding_waste=1.0 - self._real / self._positions if self._positions else 0.0,
            tokens_per_s=self._generated / self._compute_s if self._compute_s else 0.0,
            rejected=self._rejected,
            timed_out=self._timed_out,
            cancelled=self._cancelled,
            queued=sum(len(q) for q in self._pending.values()),
            in_flight=self._admitted,
        )

    # -- shutdown ----------------------------------------------------------------------------
    async def close(self) -> None:
        """Refuse new work, fail queued jobs, let the running batch finish, stop the thread."""
        if self._closing:
            return
        self._closing = True
        unregister_component(self)
        for queue in self._pending.values():
            for job in queue:
                if not job.future.done():
                    job.future.set_exception(BatcherClosed(f"model {self.name} closed"))
        self._pending.clear()
        self._wake.set()
        await self._task
        self._executor.shutdown(wait=True)
