"""End-to-end fixtures: the three feature services on the real broker, database and models.

Per session (package): one SmolLM2-135M generator and one MiniLM embedder, shared by every
service of every test; loading them is the expensive part. Per test: a fresh database
(`database_url`), fresh topics, a router configured explicitly (never from the developer's
shell) and the three services, each a `ServiceRuntime` started in-process around its real
lifespan with the shared models and the test's router injected through `ServiceContext.extras`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry

from shared.config import CoreSettings
from shared.inference.runtime import LocalEmbedder, LocalGenerator
from shared.inference.settings import InferenceSettings
from shared.routing import Router, RoutingMetrics, RoutingSettings
from tests.e2e.support import MINILM, SMOL, Cairn, provider_answer, start_cairn
from tests.fakes.openai_server import FakeOpenAIServer
from tests.unit.routing.fake_task import routing_env_names


@pytest.fixture(autouse=True)
def clean_routing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Routing comes only from what each test passes, never from the developer's shell."""
    for name in routing_env_names():
        monkeypatch.delenv(name, raising=False)


def _inference_settings() -> InferenceSettings:
    # One torch thread: on the 2-core machines this suite targets, the broker's JVM, the event
    # loop and harper share the cores with decoding, and two spinning OpenMP threads against
    # that load were measured 10-20x slower than one.
    return InferenceSettings(
        INFERENCE_DEVICE="cpu",
        INFERENCE_TORCH_THREADS=1,
        INFERENCE_MAX_BATCH_SIZE=8,
        INFERENCE_MAX_WAIT_MS=20,
        INFERENCE_QUEUE_SIZE=64,
        INFERENCE_WARMUP=False,
    )


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def models() -> AsyncIterator[tuple[LocalGenerator, LocalEmbedder]]:
    """The real weights, loaded once for the e2e package (torch's thread count restored)."""
    import torch

    threads = torch.get_num_threads()
    settings = _inference_settings()
    generator = await LocalGenerator.start(settings, CoreSettings(), model=SMOL)
    embedder = await LocalEmbedder.start(settings, CoreSettings(), model=MINILM)
    try:
        yield generator, embedder
    finally:
        await generator.close()
        await embedder.close()
        torch.set_num_threads(threads)


RouterFactory = Callable[..., Router]


@pytest.fixture
async def make_router() -> AsyncIterator[RouterFactory]:
    """Routers from explicit settings (keyed by their environment names), closed after."""
    routers: list[Router] = []

    def build(**values: Any) -> Router:
        # The latency budget is off: a slow CPU must not turn into overload escalations.
        settings = RoutingSettings(_env_file=None, **{"CAIRN_LATENCY_BUDGET_MS": 0, **values})
        router = Router(settings, metrics=RoutingMetrics(CollectorRegistry()))
        routers.append(router)
        return router

    yield build
    for router in routers:
        await router.aclose()


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAIServer]:
    """The OpenAI stand-in, answering like a competent provider (see `provider_answer`)."""
    async with FakeOpenAIServer(responder=provider_answer) as server:
        yield server


StartCairn = Callable[[Router], Awaitable[Cairn]]


@pytest.fixture
async def cairn(
    models: tuple[LocalGenerator, LocalEmbedder],
    kafka_bootstrap: str,
    database_url: str,
    tmp_path: Path,
) -> AsyncIterator[StartCairn]:
    """`await cairn(router)` starts the three services around `router`; stopped after."""
    generator, embedder = models
    async with AsyncExitStack() as stack:

        async def start(router: Router) -> Cairn:
            return await start_cairn(
                stack,
                generator=generator,
                embedder=embedder,
                router=router,
                bootstrap=kafka_bootstrap,
                database_url=database_url,
                state_dir=tmp_path / f"state-{uuid.uuid4().hex[:6]}",
            )

        yield start
