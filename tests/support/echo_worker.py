"""`python -m tests.support.echo_worker TOPIC [RUNS_FILE]`: the echo service as a real process.

Used by tests that kill or signal a worker. Every setting comes from the environment, as in
production; the topic is an argument so each test has its own. With RUNS_FILE, every handler
run is appended to it (tests/support/runs.py) so recomputations can be counted.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from shared.config import CoreSettings
from shared.messaging.app import ServiceRuntime, serve
from shared.observability.logging import configure_logging
from tests.support.echo import ECHO_SPEC
from tests.support.runs import counted_spec


def main() -> None:
    topic = sys.argv[1]
    core = CoreSettings()
    configure_logging(core.log_level, json_lines=True)
    spec = ECHO_SPEC.with_topics(topic, f"{topic}.results")
    if len(sys.argv) > 2:
        spec = counted_spec(spec, Path(sys.argv[2]))
    asyncio.run(serve(ServiceRuntime(spec, core=core)))


if __name__ == "__main__":
    main()
