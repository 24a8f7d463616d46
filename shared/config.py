"""Process settings.

Every environment variable Cairn reads is declared here, once, on a pydantic-settings
class. Subsystems take the settings object they need as an argument instead of reading the
environment themselves, so a test can build one explicitly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class CairnBaseSettings(BaseSettings):
    """Base for every settings class: reads the environment and an optional `.env` file."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)


class CoreSettings(CairnBaseSettings):
    """Settings every process shares."""

    environment: Literal["development", "test", "production"] = Field(
        "development",
        alias="CAIRN_ENV",
        description="Deployment environment: development, test or production.",
    )
    state_dir: Path = Field(
        REPO_ROOT / ".cairn",
        alias="CAIRN_STATE_DIR",
        description="Local state: SQLite file, model cache, assets, blobs, stack logs.",
    )
    log_level: str = Field("INFO", alias="CAIRN_LOG_LEVEL", description="Root log level.")
    log_json: bool = Field(
        True, alias="CAIRN_LOG_JSON", description="One JSON object per log line."
    )

    @property
    def model_cache_dir(self) -> Path:
        return self.state_dir / "models"


class KafkaSettings(CairnBaseSettings):
    """Broker connection; SASL/TLS fields are what Amazon MSK needs."""

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", alias="KAFKA_BOOTSTRAP_SERVERS", description="Comma-separated host:port."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        alias="KAFKA_SECURITY_PROTOCOL",
        description="SASL_SSL with SCRAM for Amazon MSK.",
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, alias="KAFKA_SASL_MECHANISM", description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
    )
    sasl_username: str | None = Field(None, alias="KAFKA_SASL_USERNAME", description="SASL user.")
    sasl_password: SecretStr | None = Field(
        None, alias="KAFKA_SASL_PASSWORD", description="SASL password (secret; never logged)."
    )
    ssl_cafile: Path | None = Field(
        None, alias="KAFKA_SSL_CAFILE", description="CA bundle for TLS; system CAs when unset."
    )
    topic_partitions: int = Field(
        6,
        ge=1,
        alias="KAFKA_TOPIC_PARTITIONS",
        description="Partitions of topics created on start.",
    )
    topic_replication: int = Field(
        1,
        ge=1,
        alias="KAFKA_TOPIC_REPLICATION",
        description="Replication factor of created topics.",
    )
    # Tansu (the no-Java broker) rejects InitProducerId, so idempotence is switchable.
    idempotent_producer: bool = Field(
        True,
        alias="KAFKA_IDEMPOTENT_PRODUCER",
        description="Idempotent producer with acks=all (off for Tansu).",
    )

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                "KAFKA_SECURITY_PROTOCOL=SASL_* needs KAFKA_SASL_MECHANISM, "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return self


class DatabaseSettings(CairnBaseSettings):
    """Database; SQLite under the state dir unless DATABASE_URL names another."""

    url: str | None = Field(
        None,
        alias="DATABASE_URL",
        description="SQLAlchemy async URL; SQLite in the state dir when unset.",
    )
    store_input_text: bool = Field(
        False,
        alias="CAIRN_STORE_INPUT_TEXT",
        description="Store request text; otherwise only its SHA-256.",
    )
    retention_days: int = Field(
        30,
        ge=1,
        alias="CAIRN_RETENTION_DAYS",
        description="Age at which `make purge` deletes results.",
    )
    echo: bool = Field(
        False, alias="DATABASE_ECHO", description="Log every SQL statement (debugging)."
    )

    def resolved_url(self, core: CoreSettings) -> str:
        if self.url:
            return self.url
        return f"sqlite+aiosqlite:///{core.state_dir / 'cairn.db'}"


@lru_cache(maxsize=1)
def core_settings() -> CoreSettings:
    return CoreSettings()
