"""The micro-batcher with a fake model: size cap, linger, buckets, bounded queue, timeouts."""

import asyncio
import threading
import time

import pytest

from shared.errors import Overloaded, is_retriable
from shared.inference.backends.base import BatchOutcome
from shared.inference.batcher import BatcherClosed, BatcherCrashed, BatcherFailed, Job, MicroBatcher
from shared.observability.health import component_checks


class FakeModel:
    """Echoes payloads; records batches; can be held to keep a batch running."""

    def __init__(self, step_s: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.step_s = step_s
        self.release = threading.Event()
        self.release.set()
        self.saw_cancel = threading.Event()

    def __call__(self, jobs: list[Job[str]]) -> BatchOutcome[str]:
        self.batches.append([j.payload for j in jobs])
        deadline = time.monotonic() + 5
        while not self.release.is_set() and time.monotonic() < deadline:
            if any(j.cancelled for j in jobs):
                self.saw_cancel.set()
            time.sleep(0.005)
        time.sleep(self.step_s)
        if any(j.payload == "boom" for j in jobs):
            raise RuntimeError("model failed")
        if any(j.payload == "short" for j in jobs):
            # A backend bug: one result missing. The collector cannot pair results with
            # callers and crashes; its supervisor must not leave the callers hanging.
            return BatchOutcome([j.payload for j in jobs][:-1], positions=1, real=1)
        return BatchOutcome([j.payload.upper() for j in jobs], positions=len(jobs), real=len(jobs))


def make(model: FakeModel, **kw: float) -> MicroBatcher[str, str]:
    opts = {"max_batch_size": 4, "max_wait_ms": 20.0, "queue_size": 16} | kw
    return MicroBatcher(
        "fake",
        model,
        max_batch_size=int(opts["max_batch_size"]),
        max_wait_ms=opts["max_wait_ms"],
        queue_size=int(opts["queue_size"]),
    )


async def test_each_caller_gets_its_own_result_and_batches_respect_the_cap() -> None:
    model = FakeModel()
    batcher = make(model)
    words = [f"w{i}" for i in range(10)]
    results = await asyncio.gather(*(batcher.submit(w, 32) for w in words))
    assert [r.value for r in results] == [w.upper() for w in words]
    assert all(len(b) <= 4 for b in model.batches)
    assert sorted(w for batch in model.batches for w in batch) == sorted(words)
    stats = batcher.stats()
    assert stats.requests == 10 and stats.batches == len(model.batches)
    assert stats.in_flight == 0 and stats.queued == 0
    await batcher.close()


async def test_linger_waits_for_company_then_goes() -> None:
    model = FakeModel()
    batcher = make(model, max_wait_ms=50.0)
    started = time.monotonic()
    first = asyncio.ensure_future(batcher.submit("a", 32))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(batcher.submit("b", 32))
    done = await asyncio.gather(first, second)
    assert model.batches == [["a", "b"]]
    assert time.monotonic() - started >= 0.045
    assert done[0].batch_size == 2
    await batcher.close()


async def test_a_full_bucket_goes_without_waiting_for_linger() -> None:
    model = FakeModel()
    batcher = make(model, max_batch_size=2, max_wait_ms=5000.0)
    started = time.monotonic()
    await asyncio.gather(batcher.submit("a", 32), batcher.submit("b", 32))
    assert time.monotonic() - started < 1.0
    await batcher.close()


async def test_batches_group_by_bucket_and_top_up_from_neighbours() -> None:
    model = FakeModel()
    model.release.clear()  # hold the first batch so the others queue up together
    batcher = make(model, max_batch_size=2, max_wait_ms=0.0)
    blocker = asyncio.ensure_future(batcher.submit("hold", 32))
    await asyncio.sleep(0.05)
    calls = [
        batcher.submit("s1", 64),
        batcher.submit("l1", 256),
        batcher.submit("s2", 64),
        batcher.submit("l2", 256),
        batcher.submit("m1", 128),
    ]
    tasks = [asyncio.ensure_future(c) for c in calls]
    await asyncio.sleep(0.02)
    model.release.set()
    await asyncio.gather(blocker, *tasks)
    # Full buckets first (oldest head), then the lone 128 row alone.
    assert model.batches[1:] == [["s1", "s2"], ["l1", "l2"], ["m1"]]
    await batcher.close()


async def test_full_queue_is_refused_at_once() -> None:
    model = FakeModel()
    model.release.clear()
    batcher = make(model, queue_size=2, max_wait_ms=0.0)
    admitted = [asyncio.ensure_future(batcher.submit(w, 32)) for w in ("a", "b")]
    await asyncio.sleep(0)
    started = time.monotonic()
    with pytest.raises(Overloaded):
        await batcher.submit("c", 32)
    assert time.monotonic() - started < 0.05
    assert batcher.stats().rejected == 1
    model.release.set()
    await asyncio.gather(*admitted)
    await batcher.submit("d", 32)  # room again
    await batcher.close()


async def test_timeout_frees_the_slot_and_skips_the_row() -> None:
    model = FakeModel()
    model.release.clear()
    batcher = make(model, queue_size=2, max_batch_size=1, max_wait_ms=0.0)
    running = asyncio.ensure_future(batcher.submit("running", 32))
    await asyncio.sleep(0.02)
    with pytest.raises(TimeoutError):
        await batcher.submit("late", 32, timeout_s=0.05)
    assert batcher.stats().in_flight == 1  # only the running one
    assert batcher.stats().timed_out == 1
    model.release.set()
    await running
    await batcher.submit("next", 32)
    assert ["late"] not in model.batches  # the expired request never reached the model
    await batcher.close()


async def test_cancelling_a_running_request_frees_its_slot_and_tells_the_worker() -> None:
    model = FakeModel()
    model.release.clear()
    batcher = make(model, queue_size=1, max_wait_ms=0.0)
    task = asyncio.ensure_future(batcher.submit("x", 32))
    await asyncio.sleep(0.02)
    with pytest.raises(Overloaded):
        await batcher.submit("y", 32)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert batcher.stats().in_flight == 0
    assert await asyncio.to_thread(model.saw_cancel.wait, 2.0)
    model.release.set()
    assert (await batcher.submit("z", 32)).value == "Z"
    assert batcher.stats().cancelled == 1
    await batcher.close()


async def test_a_failing_batch_fails_its_callers_only() -> None:
    model = FakeModel()
    batcher = make(model, max_batch_size=1)
    with pytest.raises(RuntimeError, match="model failed"):
        await batcher.submit("boom", 32)
    assert (await batcher.submit("ok", 32)).value == "OK"
    await batcher.close()


async def test_close_fails_queued_requests_and_refuses_new_ones() -> None:
    model = FakeModel()
    model.release.clear()
    batcher = make(model, max_batch_size=1, max_wait_ms=0.0)
    running = asyncio.ensure_future(batcher.submit("a", 32))
    await asyncio.sleep(0.02)
    queued = asyncio.ensure_future(batcher.submit("b", 32))
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(batcher.close())
    await asyncio.sleep(0.01)
    model.release.set()
    await closing
    assert (await running).value == "A"  # the running batch finishes
    with pytest.raises(BatcherClosed):
        await queued
    with pytest.raises(BatcherClosed):
        await batcher.submit("c", 32)


async def test_a_crashed_collector_fails_its_batch_retriably_and_restarts() -> None:
    model = FakeModel()
    batcher = make(model, max_batch_size=2, max_wait_ms=0.0)
    crashed = await asyncio.gather(
        batcher.submit("short", 32, timeout_s=5),
        batcher.submit("x", 32, timeout_s=5),
        return_exceptions=True,
    )
    assert all(isinstance(r, BatcherCrashed) for r in crashed), crashed
    assert all(is_retriable(r) for r in crashed if isinstance(r, BaseException))
    # The restarted collector serves the next requests, and the probes say it is up.
    assert (await batcher.submit("ok", 32, timeout_s=5)).value == "OK"
    assert batcher.restarts == 1 and batcher.failure is None
    checks = [c for c in component_checks() if c.name == "model:fake"]
    assert checks and all(c.ok for c in checks)
    assert batcher.stats().in_flight == 0
    await batcher.close()


async def test_requests_queued_during_a_crash_are_served_by_the_restarted_collector() -> None:
    model = FakeModel()
    model.release.clear()
    batcher = make(model, max_batch_size=1, max_wait_ms=0.0)
    doomed = asyncio.ensure_future(batcher.submit("short", 32, timeout_s=5))
    await asyncio.sleep(0.02)  # "short" is running; the next two queue behind it
    queued = [asyncio.ensure_future(batcher.submit(w, 32, timeout_s=5)) for w in ("q1", "q2")]
    await asyncio.sleep(0.01)
    model.release.set()
    with pytest.raises(BatcherCrashed):
        await doomed
    assert [r.value for r in await asyncio.gather(*queued)] == ["Q1", "Q2"]
    await batcher.close()


async def test_a_collector_that_keeps_crashing_marks_the_batcher_failed() -> None:
    model = FakeModel()
    batcher = MicroBatcher(
        "flaky", model, max_batch_size=1, max_wait_ms=0.0, queue_size=16, max_restarts=2
    )
    for _ in range(3):
        with pytest.raises(BatcherCrashed):
            await batcher.submit("short", 32, timeout_s=5)
    assert batcher.failure is not None
    started = time.monotonic()
    with pytest.raises(BatcherFailed) as refused:
        await batcher.submit("ok", 32, timeout_s=5)
    assert time.monotonic() - started < 0.1, "refused at once, not after a timeout"
    assert is_retriable(refused.value)
    (check,) = [c for c in component_checks() if c.name == "model:flaky"]
    assert not check.ok and "crashed 3 times" in check.detail
    await batcher.close()
    assert not [c for c in component_checks() if c.name == "model:flaky"], "closed: unlisted"
