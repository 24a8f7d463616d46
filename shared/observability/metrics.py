"""Prometheus metrics of the messaging runtime (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "cairn_events_total",
    "Events handled, by outcome (ok, duplicate, conflict, dlq, retried).",
    ["service", "outcome"],
)
RESULTS = Counter(
    "cairn_results_total", "Results published, by status and tier.", ["service", "status", "tier"]
)
HANDLE_SECONDS = Histogram(
    "cairn_handle_seconds",
    "Time from dequeue to offset-ready, per event.",
    ["service"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
IN_FLIGHT = Gauge("cairn_in_flight", "Events being processed.", ["service"])
PAUSED = Gauge(
    "cairn_partitions_paused", "1 while fetching is paused for backpressure.", ["service"]
)
RETRIES = Counter("cairn_retries_total", "Retries of transient failures.", ["service", "stage"])
COMMITS = Counter("cairn_commits_total", "Offset commits.", ["service"])
LANE_FAILURES = Counter(
    "cairn_lane_failures_total",
    "Failures that escaped the event processor and were retried by the lane supervisor.",
    ["service"],
)
