"""Errors specific to the inference runtime (the shared tree lives in shared.errors)."""

from __future__ import annotations

from shared.errors import ConfigurationError


class ProvisioningError(ConfigurationError):
    """Model files are missing, cannot be installed, or fail their pinned checksum."""
