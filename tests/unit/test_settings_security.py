"""Kafka security settings (what Amazon MSK needs): SASL/SCRAM credentials and TLS.

Credentials are read from the environment only, kept as `SecretStr`, and never shown by
repr, str, dumps or log lines; SASL without complete credentials is refused at start-up,
not at the first connection attempt.
"""

from __future__ import annotations

import io
import json
import logging
import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from shared.config import DatabaseSettings, KafkaSettings
from shared.messaging.clients import connection_kwargs
from shared.observability.logging import JsonFormatter
from shared.persistence.engine import redacted

PASSWORD = "pw-7f3a9c-never-print-me"
SASL_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "b-1.example.kafka.us-east-1.amazonaws.com:9096",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "cairn",
    "KAFKA_SASL_PASSWORD": PASSWORD,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No KAFKA_* from the caller's shell, and no `.env` file: each test states its env."""
    for name in [*SASL_ENV, "KAFKA_SSL_CAFILE"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def set_env(monkeypatch: pytest.MonkeyPatch, **overrides: str | None) -> None:
    for name, value in {**SASL_ENV, **overrides}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize(
    "missing", ["KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"]
)
def test_sasl_without_complete_credentials_is_refused(
    monkeypatch: pytest.MonkeyPatch, protocol: str, missing: str
) -> None:
    set_env(monkeypatch, KAFKA_SECURITY_PROTOCOL=protocol, **{missing: None})
    with pytest.raises(ValidationError, match="KAFKA_SASL_PASSWORD") as info:
        KafkaSettings()
    assert PASSWORD not in str(info.value)


def test_unknown_mechanism_or_protocol_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, KAFKA_SASL_MECHANISM="GSSAPI")
    with pytest.raises(ValidationError, match="KAFKA_SASL_MECHANISM"):
        KafkaSettings()
    set_env(monkeypatch, KAFKA_SECURITY_PROTOCOL="TLS")
    with pytest.raises(ValidationError, match="KAFKA_SECURITY_PROTOCOL"):
        KafkaSettings()


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # No secret has a default in code: without the variable there is no password at all.
    assert KafkaSettings.model_fields["sasl_password"].default is None
    assert KafkaSettings().sasl_password is None
    set_env(monkeypatch)
    settings = KafkaSettings()
    assert isinstance(settings.sasl_password, SecretStr)
    assert settings.sasl_password.get_secret_value() == PASSWORD
    # The client is the one place the clear value is handed over.
    kwargs = connection_kwargs(settings)
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "cairn"
    assert kwargs["sasl_plain_password"] == PASSWORD


def test_secrets_never_appear_in_repr_dumps_or_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch)
    settings = KafkaSettings()
    shown = [
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        settings.model_dump_json(),
        repr(settings.sasl_password),
    ]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.settings_security")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.info("kafka settings %s / %r", settings, settings)
        logger.info("as extra field", extra={"kafka": settings})
    finally:
        logger.removeHandler(handler)
    shown.extend(stream.getvalue().splitlines())
    assert len(shown) == 7
    for text in shown:
        assert PASSWORD not in text
    assert "**********" in repr(settings)
    assert json.loads(settings.model_dump_json())["sasl_password"] == "**********"


def test_database_password_is_redacted_when_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://cairn:{PASSWORD}@db:5432/cairn")
    url = DatabaseSettings().url
    assert url is not None
    assert PASSWORD not in redacted(url)  # what ServiceRuntime.start logs
    assert "cairn:***@db" in redacted(url)


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_tls_builds_a_verifying_context(monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    set_env(monkeypatch, KAFKA_SECURITY_PROTOCOL=protocol)
    kwargs = connection_kwargs(KafkaSettings())
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    # Server certificate and host name are checked: no silent downgrade to "encrypt only".
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert kwargs["security_protocol"] == protocol
    assert ("sasl_mechanism" in kwargs) == (protocol == "SASL_SSL")


def test_tls_with_a_private_ca_file(monkeypatch: pytest.MonkeyPatch) -> None:
    certifi = pytest.importorskip("certifi")  # any PEM bundle will do
    set_env(monkeypatch, KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE=certifi.where())
    context = connection_kwargs(KafkaSettings())["ssl_context"]
    assert context.cert_store_stats()["x509_ca"] > 0
    set_env(monkeypatch, KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE="/nonexistent/ca.pem")
    with pytest.raises(FileNotFoundError):  # a wrong path fails at start-up, loudly
        connection_kwargs(KafkaSettings())


def test_plaintext_has_neither_tls_nor_sasl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    kwargs = connection_kwargs(KafkaSettings())
    assert kwargs == {"bootstrap_servers": "127.0.0.1:9092", "security_protocol": "PLAINTEXT"}
