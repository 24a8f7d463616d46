"""Wiring of one service process: settings → database → handler → Kafka loop → health.

`ServiceRuntime` is what tests start in-process; `run_service` is the entry point each
`services/<name>/__main__.py` calls, adding signal handling and logging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from contextlib import AsyncExitStack
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.messaging.clients import make_consumer, make_producer
from shared.messaging.consumer import ConsumerLoop
from shared.messaging.handler import Handler, ServiceContext, ServiceSpec
from shared.messaging.processor import EventProcessor
from shared.messaging.settings import RuntimeSettings
from shared.messaging.topics import ensure_topics
from shared.observability.health import HealthServer
from shared.observability.logging import configure_logging, describe_error, service_var
from shared.persistence.budget import SqlBudgetStore
from shared.persistence.engine import create_engine, redacted
from shared.persistence.repository import ResultRepository

log = logging.getLogger(__name__)


class ServiceRuntime:
    """One feature service: its handler, its consumer group, its database, its health port."""

    def __init__(
        self,
        spec: ServiceSpec[Any, Any],
        *,
        core: CoreSettings | None = None,
        kafka: KafkaSettings | None = None,
        runtime: RuntimeSettings | None = None,
        database: DatabaseSettings | None = None,
        handler: Handler | None = None,
    ) -> None:
        self.spec = spec
        self.core = core or CoreSettings()
        self.kafka = kafka or KafkaSettings()
        self.settings = runtime or RuntimeSettings()
        self.database = database or DatabaseSettings()
        self._handler_override = handler
        self._stack = AsyncExitStack()
        self._loop: ConsumerLoop | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self.health: HealthServer | None = None
        self.repository: ResultRepository | None = None

    @property
    def group_id(self) -> str:
        return self.settings.group_id or f"cairn-{self.spec.feature}"

    def ready(self) -> bool:
        return bool(self._loop and self._loop.running and self._consumer is not None)

    @property
    def processed(self) -> int:
        return self._loop.processed if self._loop else 0

    async def start(self) -> None:
        s = self.settings
        url = self.database.resolved_url(self.core)
        log.info(
            "starting %s: %s → %s, database %s",
            self.spec.name,
            self.spec.input_topic,
            self.spec.output_topic,
            redacted(url),
        )
        self.health = HealthServer(s.health_host, s.health_port, self.ready)
        await self.health.start()
        self._stack.push_async_callback(self.health.stop)
        if s.create_topics:
            await ensure_topics(
                self.kafka, [self.spec.input_topic, self.spec.output_topic, s.dlq_topic]
            )

        engine = create_engine(url, echo=self.database.echo)
        self._stack.push_async_callback(engine.dispose)
        self.repository = ResultRepository(engine)

        handler = self._handler_override
        if handler is None:
            ctx = ServiceContext(
                core=self.core,
                state=self.repository,
                budget_store=SqlBudgetStore(self.repository),
            )
            handler = await self._stack.enter_async_context(self.spec.lifespan(ctx))

        client_id = f"{self.spec.name}-{socket.gethostname()}-{os.getpid()}"
        self._producer = make_producer(self.kafka, client_id=client_id)
        await self._producer.start()
        self._stack.push_async_callback(self._producer.stop)

        processor = EventProcessor(
            self.spec,
            handler,
            self.repository,
            self._producer,
            s,
            store_input_text=self.database.store_input_text,
        )
        self._consumer = make_consumer(
            self.kafka,
            group_id=self.group_id,
            client_id=client_id,
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=max(1000, s.session_timeout_ms // 5),
        )
        self._loop = ConsumerLoop(self._consumer, processor.process, s, service=self.spec.name)
        self._consumer.subscribe([self.spec.input_topic], listener=self._loop.listener())
        await self._consumer.start()
        self._loop_task = asyncio.create_task(self._loop.run(), name=f"{self.spec.name}-loop")

    async def wait(self) -> None:
        """Until the loop ends (after `stop`, or because it crashed)."""
        if self._loop_task:
            await self._loop_task

    async def stop(self) -> None:
        """Stop fetching, finish in-flight work (bounded), commit, leave the group."""
        try:
            if self._loop and self._loop_task:
                self._loop.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        asyncio.shield(self._loop_task), self.settings.shutdown_grace_s + 5
                    )
            if self._consumer is not None:
                await self._consumer.stop()  # leaves the group: partitions move at once
        finally:
            await self._stack.aclose()
            log.info("%s stopped after %d events", self.spec.name, self.processed)


async def serve(runtime: ServiceRuntime) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    waiter = asyncio.create_task(runtime.wait())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if waiter.done() and waiter.exception():
        crash = waiter.exception()
        log.error("consumer loop crashed: %s", crash and describe_error(crash), exc_info=crash)
    log.info("shutting down %s", runtime.spec.name)
    stopper.cancel()
    await runtime.stop()


def run_service(spec: ServiceSpec[Any, Any]) -> None:
    """Entry point of `python -m services.<name>`."""
    core = CoreSettings()
    configure_logging(core.log_level, json_lines=core.log_json)
    service_var.set(spec.name)
    asyncio.run(serve(ServiceRuntime(spec, core=core)))
