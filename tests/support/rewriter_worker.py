"""`python -m tests.support.rewriter_worker TOPIC RUNS_FILE`: the real rewriter as a process.

The writing-tools service exactly as `python -m services.rewriter` runs it (its lifespan loads
the generator named by CAIRN_GENERATOR_MODEL, the router and the linter), on the test's
topics, with its handler wrapped to append every run to RUNS_FILE (tests/support/runs.py).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from services.rewriter.spec import SPEC
from shared.config import CoreSettings
from shared.messaging.app import ServiceRuntime, serve
from shared.observability.logging import configure_logging
from tests.support.runs import counted_spec


def main() -> None:
    topic, runs_file = sys.argv[1], Path(sys.argv[2])
    core = CoreSettings()
    configure_logging(core.log_level, json_lines=True)
    spec = counted_spec(SPEC.with_topics(topic, f"{topic}.results"), runs_file)
    asyncio.run(serve(ServiceRuntime(spec, core=core)))


if __name__ == "__main__":
    main()
