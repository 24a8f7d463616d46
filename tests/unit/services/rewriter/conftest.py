"""Shared fixtures of the rewriter tests, loaded once per session: harper, the small model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from services.rewriter.lints import LintChecker
from shared.config import CoreSettings

if TYPE_CHECKING:
    from shared.inference.runtime import LocalGenerator

# The fast plumbing model: its answers are poor, which is the point of the model tests
# (whatever it writes, nothing unverified may be published).
SMALL_MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="session")
def checker() -> LintChecker:
    return LintChecker()


@pytest.fixture(scope="session")
async def small_generator() -> AsyncIterator[LocalGenerator]:
    """The smallest real chat model (SmolLM2-135M), loaded once for the session."""
    from shared.inference.runtime import LocalGenerator
    from shared.inference.settings import InferenceSettings

    generator = await LocalGenerator.start(InferenceSettings(), CoreSettings(), model=SMALL_MODEL)
    yield generator
    await generator.close()
