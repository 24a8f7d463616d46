"""The operator commands' tests reuse the messaging tests' echo service fixture."""

from tests.integration.messaging.conftest import start_echo

__all__ = ["start_echo"]
