from prometheus_client import CollectorRegistry, generate_latest

from shared.inference.metrics_export import register_batcher_metrics
from shared.inference.types import BatcherStats


def test_stats_are_exported_per_model() -> None:
    stats = BatcherStats(
        model="smol",
        requests=10,
        batches=3,
        mean_batch_size=3.3,
        queue_wait_p50_ms=4.0,
        queue_wait_p95_ms=9.0,
        padding_waste=0.1,
        tokens_per_s=42.0,
        rejected=1,
        timed_out=0,
        cancelled=2,
        queued=0,
        in_flight=1,
    )
    registry = CollectorRegistry()
    register_batcher_metrics(lambda: [stats], registry)
    text = generate_latest(registry).decode()
    assert 'cairn_inference_tokens_per_s{model="smol"} 42.0' in text
    assert 'cairn_inference_rejected_total{model="smol"} 1.0' in text
