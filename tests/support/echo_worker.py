"""`python -m tests.support.echo_worker TOPIC`: the echo service as a real process.

Used by tests that kill or signal a worker. Every setting comes from the environment, as in
production; the topic is an argument so each test has its own. The process exits with the
runtime's exit status (shared/messaging/exits.py).

Fault switch for tests: SIGUSR1 closes the worker's Kafka consumer under its running loop,
as a client that dies would; the loop then crashes and the process must exit non-zero.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from shared.config import CoreSettings
from shared.messaging.app import ServiceRuntime, serve
from shared.messaging.exits import ExitCode
from shared.observability.logging import configure_logging
from tests.support.echo import ECHO_SPEC


async def serve_with_fault_switch(runtime: ServiceRuntime) -> ExitCode:
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def kill_consumer() -> None:
        if runtime._consumer is not None:
            task = loop.create_task(runtime._consumer.stop())
            tasks.add(task)

    loop.add_signal_handler(signal.SIGUSR1, kill_consumer)
    return await serve(runtime)


def main() -> None:
    topic = sys.argv[1]
    core = CoreSettings()
    configure_logging(core.log_level, json_lines=True)
    spec = ECHO_SPEC.with_topics(topic, f"{topic}.results")
    sys.exit(int(asyncio.run(serve_with_fault_switch(ServiceRuntime(spec, core=core)))))


if __name__ == "__main__":
    main()
