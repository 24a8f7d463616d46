"""Settings of the messaging runtime (one per service process)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.config import CairnBaseSettings


class RuntimeSettings(CairnBaseSettings):
    group_id: str | None = Field(
        None, alias="CAIRN_GROUP_ID", description="Defaults to cairn-<feature>."
    )
    fetch_max_records: int = Field(
        256, ge=1, alias="CAIRN_FETCH_MAX_RECORDS", description="Records per getmany() call."
    )
    fetch_timeout_ms: int = Field(
        200,
        ge=1,
        alias="CAIRN_FETCH_TIMEOUT_MS",
        description="How long one fetch waits for records.",
    )
    # Backpressure: fetching pauses above the high mark and resumes below half of it.
    max_in_flight: int = Field(
        64,
        ge=1,
        alias="CAIRN_MAX_IN_FLIGHT",
        description="Events in flight before fetching pauses (resumes at half).",
    )
    # "key": events with the same key are processed in order, different keys concurrently.
    # "partition": strictly one event at a time per partition.
    ordering: Literal["key", "partition"] = Field(
        "key",
        alias="CAIRN_ORDERING",
        description="key: in order per key, keys concurrent; partition: one at a time.",
    )
    handler_timeout_s: float = Field(
        120.0,
        gt=0,
        alias="CAIRN_HANDLER_TIMEOUT_S",
        description="Timeout of one handler attempt (counts as retriable).",
    )
    max_attempts: int = Field(
        4,
        ge=1,
        alias="CAIRN_MAX_ATTEMPTS",
        description="Handler attempts for retriable errors before the DLQ.",
    )
    retry_initial_s: float = Field(
        0.2,
        gt=0,
        alias="CAIRN_RETRY_INITIAL_S",
        description="First backoff delay (exponential, full jitter).",
    )
    retry_max_s: float = Field(10.0, gt=0, alias="CAIRN_RETRY_MAX_S", description="Backoff cap.")
    commit_interval_s: float = Field(
        1.0,
        gt=0,
        alias="CAIRN_COMMIT_INTERVAL_S",
        description="How often finished offsets are committed.",
    )
    shutdown_grace_s: float = Field(
        20.0,
        gt=0,
        alias="CAIRN_SHUTDOWN_GRACE_S",
        description="Bound on finishing in-flight work at SIGTERM.",
    )
    rebalance_drain_s: float = Field(
        10.0,
        gt=0,
        alias="CAIRN_REBALANCE_DRAIN_S",
        description="Bound on finishing revoked partitions' work.",
    )
    session_timeout_ms: int = Field(
        15_000,
        ge=1000,
        alias="CAIRN_SESSION_TIMEOUT_MS",
        description="Consumer group session timeout.",
    )
    health_host: str = Field(
        "127.0.0.1",
        alias="CAIRN_HEALTH_HOST",
        description="Bind address of /healthz, /readyz, /metrics.",
    )
    health_port: int = Field(
        0,
        ge=0,
        alias="CAIRN_HEALTH_PORT",
        description="Port of the health endpoint; 0 = ephemeral.",
    )
    lane_max_failures: int = Field(
        5,
        ge=1,
        alias="CAIRN_LANE_MAX_FAILURES",
        description=(
            "Failures outside the handler (a dead-letter write, a store bug) after which an "
            "event is dead-lettered by the last-resort path; it is retried until then."
        ),
    )
    liveness_stall_s: float = Field(
        60.0,
        gt=0,
        alias="CAIRN_LIVENESS_STALL_S",
        description=(
            "/healthz fails when the consume loop has not gone round for this long; keep it "
            "above CAIRN_REBALANCE_DRAIN_S and the session timeout."
        ),
    )
    broker_check_timeout_s: float = Field(
        3.0,
        gt=0,
        alias="CAIRN_BROKER_CHECK_TIMEOUT_S",
        description="Bound on the metadata request /readyz makes to check the broker.",
    )
    topic_min_insync_replicas: int | None = Field(
        None,
        ge=1,
        alias="CAIRN_TOPIC_MIN_INSYNC_REPLICAS",
        description=(
            "min.insync.replicas of topics created on start; default 2 with replication "
            "of 3 or more, else 1."
        ),
    )
    dlq_topic: str = Field(
        "cairn.dlq.v1", alias="CAIRN_DLQ_TOPIC", description="Dead-letter topic."
    )
    create_topics: bool = Field(
        True, alias="CAIRN_CREATE_TOPICS", description="Create missing topics on start."
    )
