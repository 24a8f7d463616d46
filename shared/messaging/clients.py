"""aiokafka clients built from `KafkaSettings` (plaintext locally, SASL/SCRAM + TLS on MSK)."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from shared.config import KafkaSettings


def connection_kwargs(kafka: KafkaSettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "security_protocol": kafka.security_protocol,
    }
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = ssl.create_default_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        )
    if kafka.security_protocol.startswith("SASL"):
        kwargs["sasl_mechanism"] = kafka.sasl_mechanism
        kwargs["sasl_plain_username"] = kafka.sasl_username
        kwargs["sasl_plain_password"] = (
            kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
        )
    return kwargs


def make_producer(kafka: KafkaSettings, *, client_id: str, **overrides: Any) -> AIOKafkaProducer:
    kwargs: dict[str, Any] = {
        "client_id": client_id,
        "acks": "all",
        "linger_ms": 5,
        "max_request_size": 4 * 1024 * 1024,
    }
    if kafka.idempotent_producer:
        # Broker-side de-duplication of producer retries; implies acks=all.
        kwargs["enable_idempotence"] = True
    kwargs.update(overrides)
    return AIOKafkaProducer(**connection_kwargs(kafka), **kwargs)


def make_consumer(
    kafka: KafkaSettings, *topics: str, group_id: str, client_id: str, **overrides: Any
) -> AIOKafkaConsumer:
    kwargs: dict[str, Any] = {
        "group_id": group_id,
        "client_id": client_id,
        "enable_auto_commit": False,  # offsets are committed only after persist + publish
        "auto_offset_reset": "earliest",
    }
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **connection_kwargs(kafka), **kwargs)


def make_admin(kafka: KafkaSettings, *, client_id: str) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(client_id=client_id, **connection_kwargs(kafka))
