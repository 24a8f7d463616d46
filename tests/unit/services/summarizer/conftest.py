"""Shared fixtures of the summarizer tests: the real smallest model, loaded once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.config import CoreSettings
from shared.inference.candidates import Generator

# A fast plumbing model (MODELS.md): its summaries are poor, which is what the guard is for.
TEST_MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="session")
async def smollm() -> AsyncIterator[Generator]:
    from shared.inference.runtime import LocalGenerator
    from shared.inference.settings import InferenceSettings

    generator = await LocalGenerator.start(
        InferenceSettings(_env_file=None), CoreSettings(), model=TEST_MODEL
    )
    try:
        yield generator
    finally:
        await generator.close()
