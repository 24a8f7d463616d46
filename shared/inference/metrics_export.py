"""Optional Prometheus export of BatcherStats (prometheus_client imported only here).

Usage: `register_batcher_metrics(lambda: [generator.stats(), embedder.stats()])` once per
process; values are read from the batchers at scrape time, so nothing is double-counted.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from shared.inference.types import BatcherStats

_GAUGES = {
    "mean_batch_size": "Mean rows per batch since start",
    "queue_wait_p50_ms": "Median queue wait of recent requests (ms)",
    "queue_wait_p95_ms": "95th percentile queue wait of recent requests (ms)",
    "padding_waste": "Fraction of computed prompt positions that were padding",
    "tokens_per_s": "Generated tokens per second of model compute",
    "queued": "Requests waiting for a batch",
    "in_flight": "Requests admitted and not finished",
}
_COUNTERS = {
    "requests": "Requests admitted",
    "batches": "Batches run",
    "rejected": "Requests refused because the queue was full",
    "timed_out": "Requests that timed out",
    "cancelled": "Requests cancelled by their caller",
}


class BatcherCollector:
    """A prometheus_client custom collector over any number of batchers."""

    def __init__(self, source: Callable[[], Iterable[BatcherStats]]) -> None:
        self._source = source

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snapshots = list(self._source())
        for field, doc in _GAUGES.items():
            gauge = GaugeMetricFamily(f"cairn_inference_{field}", doc, labels=["model"])
            for stats in snapshots:
                gauge.add_metric([stats.model], float(getattr(stats, field)))
            yield gauge
        for field, doc in _COUNTERS.items():
            counter = CounterMetricFamily(f"cairn_inference_{field}", doc, labels=["model"])
            for stats in snapshots:
                counter.add_metric([stats.model], float(getattr(stats, field)))
            yield counter


def register_batcher_metrics(
    source: Callable[[], Iterable[BatcherStats]], registry: Any = None
) -> BatcherCollector:
    """Register a collector on `registry` (default: prometheus_client's global one)."""
    from prometheus_client import REGISTRY

    collector = BatcherCollector(source)
    (registry or REGISTRY).register(collector)
    return collector


class _Stated(Protocol):
    model_id: str

    def stats(self) -> BatcherStats: ...


_live: weakref.WeakValueDictionary[str, _Stated] = weakref.WeakValueDictionary()
_exported = False


def export_live(model: _Stated) -> None:
    """Export a started generator or embedder on the default registry (one per model id:
    a later start of the same model replaces the earlier one, so no sample is duplicated)."""
    global _exported
    _live[model.model_id] = model
    if not _exported:
        register_batcher_metrics(lambda: [m.stats() for m in list(_live.values())])
        _exported = True
