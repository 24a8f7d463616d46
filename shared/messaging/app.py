"""Wiring of one service process: settings → database → handler → Kafka loop → health.

`ServiceRuntime` is what tests start in-process; `run_service` is the entry point each
`services/<name>/__main__.py` calls, adding signal handling, logging and an exit status that
tells a crash from a shutdown (shared/messaging/exits.py). The health contract (what
/healthz and /readyz check) is in docs/runtime.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.messaging.clients import make_consumer, make_producer
from shared.messaging.consumer import ConsumerLoop
from shared.messaging.exits import ExitCode
from shared.messaging.handler import Handler, ServiceContext, ServiceSpec
from shared.messaging.processor import EventProcessor
from shared.messaging.settings import RuntimeSettings
from shared.messaging.topics import ensure_topics
from shared.observability.budget_metrics import MeteredBudgetStore
from shared.observability.health import Check, HealthServer, component_checks
from shared.observability.lag import start_lag_sampler
from shared.observability.logging import configure_logging, describe_error, service_var
from shared.persistence.budget import SqlBudgetStore
from shared.persistence.engine import create_engine, redacted
from shared.persistence.repository import ResultRepository
from shared.routing.budget import BudgetLimits
from shared.routing.settings import RoutingSettings

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
        self._lag_task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self.health: HealthServer | None = None
        self.repository: ResultRepository | None = None
        self.processor: EventProcessor | None = None
        # starting → running → stopping → stopped; only `start` and `stop` move it.
        self.phase = "starting"
        self._handler_ready = False  # the lifespan finished: models loaded, handler built

    @property
    def group_id(self) -> str:
        return self.settings.group_id or f"cairn-{self.spec.feature}"

    def ready(self) -> bool:
        """The consume loop is running (the in-process shorthand; /readyz checks more)."""
        return bool(self._loop and self._loop.running and self._consumer is not None)

    # -- health ------------------------------------------------------------------------

    def _loop_check(self) -> Check:
        """Alive while starting, polling (idle or paused: each fetch returns within
        CAIRN_FETCH_TIMEOUT_MS and counts as a beat) and draining; dead once the loop task
        ended unasked or has not gone round for CAIRN_LIVENESS_STALL_S."""
        task, loop = self._loop_task, self._loop
        if task is None or loop is None:
            return Check("consume_loop", self.phase == "starting", self.phase)
        if task.done():
            if self.phase in ("stopping", "stopped"):
                return Check("consume_loop", True, "stopped on request")
            exc = None if task.cancelled() else task.exception()
            return Check("consume_loop", False, f"ended: {type(exc).__name__ if exc else 'no'}")
        if loop.stopping:
            return Check("consume_loop", True, "draining")
        age = time.monotonic() - (loop.last_beat or time.monotonic())
        limit = self.settings.liveness_stall_s
        if age > limit:
            return Check("consume_loop", False, f"stalled: no iteration for {age:.1f}s")
        detail = f"last iteration {age:.1f}s ago, {loop.retrying} events retrying"
        return Check("consume_loop", True, detail)

    async def liveness(self) -> list[Check]:
        return [self._loop_check(), *component_checks()]

    async def _broker_check(self) -> Check:
        if self._producer is None:
            return Check("broker", False, "not connected yet")
        try:
            metadata = await asyncio.wait_for(
                self._producer.client.fetch_all_metadata(), self.settings.broker_check_timeout_s
            )
        except Exception as exc:  # KafkaError, TimeoutError, connection errors alike
            return Check("broker", False, f"unreachable: {type(exc).__name__}")
        return Check("broker", True, f"{len(metadata.brokers())} brokers")

    def _assignment_check(self) -> Check:
        loop = self._loop
        if loop is None or loop.assignments == 0:
            return Check("assignment", False, "waiting for the group to assign partitions")
        n = len(loop.assigned)
        if n == 0:
            # More replicas than partitions: this one is a standby that takes over on the
            # next rebalance. It is ready (a rollout must not wait on it), never restarted.
            return Check("assignment", True, "0 partitions: standby member of the group")
        return Check("assignment", True, f"{n} partitions")

    async def readiness(self) -> list[Check]:
        if self.phase in ("stopping", "stopped"):
            lifespan = Check("lifespan", False, self.phase)
        elif self._handler_ready:
            lifespan = Check("lifespan", True, "models loaded, handler ready")
        else:
            lifespan = Check("lifespan", False, "loading models")
        return [
            lifespan,
            await self._broker_check(),
            self._assignment_check(),
            self._loop_check(),
            *component_checks(),
        ]

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
        self.health = HealthServer(
            s.health_host, s.health_port, liveness=self.liveness, readiness=self.readiness
        )
        await self.health.start()
        self._stack.push_async_callback(self.health.stop)
        if s.create_topics:
            await ensure_topics(
                self.kafka,
                [self.spec.input_topic, self.spec.output_topic, s.dlq_topic],
                min_insync_replicas=s.topic_min_insync_replicas,
            )

        engine = create_engine(url, echo=self.database.echo)
        self._stack.push_async_callback(engine.dispose)
        self.repository = ResultRepository(engine)

        handler = self._handler_override
        if handler is None:
            ctx = ServiceContext(
                core=self.core,
                state=self.repository,
                budget_store=MeteredBudgetStore(
                    SqlBudgetStore(self.repository), BudgetLimits.from_settings(RoutingSettings())
                ),
            )
            handler = await self._stack.enter_async_context(self.spec.lifespan(ctx))
        self._handler_ready = True

        client_id = f"{self.spec.name}-{socket.gethostname()}-{os.getpid()}"
        self._producer = make_producer(self.kafka, client_id=client_id)
        await self._producer.start()
        self._stack.push_async_callback(self._producer.stop)

        self.processor = processor = EventProcessor(
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
        self._loop = ConsumerLoop(
            self._consumer,
            processor.process,
            s,
            service=self.spec.name,
            give_up=processor.dead_letter_last_resort,
        )
        self._consumer.subscribe([self.spec.input_topic], listener=self._loop.listener())
        await self._consumer.start()
        self._loop_task = asyncio.create_task(self._loop.run(), name=f"{self.spec.name}-loop")
        self._lag_task = start_lag_sampler(
            self._consumer, service=self.spec.name, group=self.group_id
        )
        self.phase = "running"

    async def wait(self) -> None:
        """Until the loop ends (after `stop`, or because it crashed)."""
        if self._loop_task:
            await self._loop_task

    async def stop(self) -> None:
        """Stop fetching, finish in-flight work (bounded), commit, leave the group.

        /readyz fails from the first moment (phase "stopping") while /healthz keeps passing
        during the drain; the health port closes last.
        """
        self.phase = "stopping"
        try:
            if self._lag_task:
                self._lag_task.cancel()
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
            self.phase = "stopped"
            log.info("%s stopped after %d events", self.spec.name, self.processed)


async def serve(runtime: ServiceRuntime) -> ExitCode:
    """Run until SIGTERM/SIGINT, then shut down gracefully; the process's exit status.

    STOPPED after a requested stop (also during start-up), START_FAILED if start-up raised,
    LOOP_CRASHED if the consume loop ended without being asked to.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.create_task(stop.wait())
    try:
        starter = asyncio.create_task(runtime.start())
        await asyncio.wait({starter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not starter.done():  # asked to stop while loading models or connecting
            starter.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starter
            code = ExitCode.STOPPED
        elif starter.exception() is not None:
            exc = starter.exception()
            log.error("%s failed to start: %s", runtime.spec.name, exc and describe_error(exc))
            code = ExitCode.START_FAILED
        else:
            waiter = asyncio.create_task(runtime.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            code = ExitCode.STOPPED
            if waiter.done():  # the loop only ends by itself when it failed
                exc = None if waiter.cancelled() else waiter.exception()
                log.error(
                    "consumer loop crashed: %s", type(exc).__name__ if exc else "ended unasked"
                )
                code = ExitCode.LOOP_CRASHED
        log.info("shutting down %s (exit status %d)", runtime.spec.name, code)
        try:
            await runtime.stop()
        except Exception as exc:
            log.error("shutdown of %s failed: %s", runtime.spec.name, type(exc).__name__)
            if code == ExitCode.STOPPED:
                code = ExitCode.ERROR
        return code
    finally:
        stopper.cancel()


def run_service(spec: ServiceSpec[Any, Any]) -> None:
    """Entry point of `python -m services.<name>`; exits with an `ExitCode`."""
    core = CoreSettings()
    configure_logging(core.log_level, json_lines=core.log_json)
    service_var.set(spec.name)
    sys.exit(int(asyncio.run(serve(ServiceRuntime(spec, core=core)))))
