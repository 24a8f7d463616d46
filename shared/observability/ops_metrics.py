"""Metrics that operators alert on and that no other module exports: dead letters by error
type, consumer lag per partition, and each tenant's share of its daily fallback budget.

Names are stable: infra/monitoring's rules and dashboards refer to them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEAD_LETTERS = Counter(
    "cairn_dead_letters_total",
    "Events sent to the dead-letter topic, by service and error type.",
    ["service", "error_type"],
)
CONSUMER_LAG = Gauge(
    "cairn_consumer_lag",
    "Records on a partition not yet committed by the group (high watermark - committed).",
    ["service", "group", "topic", "partition"],
)
BUDGET_USED = Gauge(
    "cairn_tenant_budget_used_ratio",
    "Share of a tenant's daily fallback cap spent today (1 = cap reached), by cap kind.",
    ["tenant", "kind"],
)
