"""`python -m infra.monitoring.dashboards [--check]`: one Grafana dashboard per service.

Generated, so the three stay alike and every expression names a metric Cairn exports (a test
scrapes a running service and checks). Import the JSON files from infra/monitoring/grafana/
into Grafana (Dashboards → Import) and pick the Prometheus data source that scrapes Cairn.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "grafana"
SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# service name (ServiceSpec.name) → feature (label of the routing metrics)
SERVICES = {"summarizer": "summarize", "rewriter": "rewrite", "emoji": "emoji"}


def _panel(
    pid: int,
    title: str,
    exprs: list[tuple[str, str]],
    *,
    unit: str = "short",
    x: int,
    y: int,
    description: str,
) -> dict[str, Any]:
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": e, "legendFormat": lf}
            for i, (e, lf) in enumerate(exprs)
        ],
    }


def panels(service: str, feature: str) -> list[dict[str, Any]]:
    s, f = f'service="{service}"', f'feature="{feature}"'
    specs: list[tuple[str, list[tuple[str, str]], str, str]] = [
        (
            "Consumer lag per partition",
            [(f"sum by (partition) (cairn_consumer_lag{{{s}}})", "partition {{partition}}")],
            "short",
            "Records not yet committed by the group (high watermark - committed offset).",
        ),
        (
            "Throughput by outcome",
            [(f"sum by (outcome) (rate(cairn_events_total{{{s}}}[5m]))", "{{outcome}}")],
            "ops",
            "Events handled per second: ok, duplicate (redelivery), dlq.",
        ),
        (
            "Latency p95 by tier",
            [
                (
                    "histogram_quantile(0.95, sum by (tier, le) "
                    f"(rate(cairn_routing_latency_seconds_bucket{{{f}}}[5m])))",
                    "{{tier}}",
                ),
                (
                    "histogram_quantile(0.95, sum by (le) "
                    f"(rate(cairn_handle_seconds_bucket{{{s}}}[5m])))",
                    "whole event",
                ),
            ],
            "s",
            "Routing latency by answering tier, and dequeue-to-offset-ready per event.",
        ),
        (
            "Escalation reasons",
            [
                (
                    f"sum by (reason) (rate(cairn_routing_escalations_total{{{f}}}[5m]))",
                    "{{reason}}",
                ),
                (
                    f"sum by (reason) (rate(cairn_routing_degraded_total{{{f}}}[5m]))",
                    "degraded: {{reason}}",
                ),
            ],
            "ops",
            "Why requests left the local tier, and why a wanted fallback did not happen.",
        ),
        (
            "Fallback cost per hour",
            [
                (
                    f"sum by (tier) (rate(cairn_routing_cost_usd_total{{{f}}}[15m])) * 3600",
                    "{{tier}}",
                ),
            ],
            "currencyUSD",
            "USD per hour spent on fallback tiers (API usage and the price table).",
        ),
        (
            "Local model: batch size and padding",
            [
                ("avg by (model) (cairn_inference_mean_batch_size)", "batch size {{model}}"),
                ("avg by (model) (cairn_inference_padding_waste)", "padding {{model}}"),
            ],
            "short",
            "Mean rows per micro-batch, and the share of computed prompt positions that "
            "were padding.",
        ),
        (
            "Dead letters by error type",
            [
                (
                    f"sum by (error_type) (rate(cairn_dead_letters_total{{{s}}}[5m]))",
                    "{{error_type}}",
                ),
            ],
            "ops",
            "Events sent to the DLQ per second; `cairn dlq list` shows them.",
        ),
        (
            "In flight, paused, breaker",
            [
                (f"cairn_in_flight{{{s}}}", "in flight"),
                (f"cairn_partitions_paused{{{s}}}", "paused (backpressure)"),
                ("max by (endpoint) (cairn_routing_breaker_state)", "breaker {{endpoint}}"),
            ],
            "short",
            "Backpressure state and circuit breakers (0 closed, 1 half-open, 2 open).",
        ),
    ]
    return [
        _panel(i + 1, title, exprs, unit=unit, x=12 * (i % 2), y=8 * (i // 2), description=d)
        for i, (title, exprs, unit, d) in enumerate(specs)
    ]


def dashboard(service: str, feature: str) -> dict[str, Any]:
    return {
        "uid": f"cairn-{service}",
        "title": f"Cairn {service}",
        "tags": ["cairn"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": panels(service, feature),
    }


def render() -> dict[Path, str]:
    return {
        OUT_DIR / f"cairn-{service}.json": json.dumps(dashboard(service, feature), indent=2) + "\n"
        for service, feature in SERVICES.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    stale = [p for p, text in render().items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path} is stale; run `make dashboards`", file=sys.stderr)
        return 1 if stale else 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in render().items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
