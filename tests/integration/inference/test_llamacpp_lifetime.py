"""A service killed with SIGKILL must not leave its llama-server running.

The service runs no cleanup when it is SIGKILLed (OOM killer, `kill -9`, a runtime's stop
timeout); its engine server, in a session of its own, would otherwise live on with its memory
and port. A real process starts the real engine, is killed, and the server must end too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.support.procs import children, running, wait_ended
from tests.support.workers import REPO_ROOT

SERVICE = """
import asyncio
from tests.integration.inference.conftest import start_smol

async def main() -> None:
    generator = await start_smol(INFERENCE_ENGINE="llamacpp")
    print("ready", flush=True)
    await asyncio.sleep(600)
    await generator.close()

asyncio.run(main())
"""


def test_sigkilled_service_takes_its_engine_server_with_it() -> None:
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE],
        cwd=REPO_ROOT,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
        stdout=subprocess.PIPE,
        text=True,
    )
    servers: list[int] = []
    try:
        assert service.stdout is not None
        assert service.stdout.readline().strip() == "ready", "the engine did not start"
        servers = children(service.pid, "llama-server")
        assert servers, "the started engine has no server process"
        assert all(running(pid) for pid in servers)
        service.send_signal(signal.SIGKILL)
        service.wait(10)
        left = wait_ended(servers, timeout_s=10)
        assert not left, f"llama-server {left} outlived its SIGKILLed service by 10 s"
    finally:
        if service.poll() is None:
            service.kill()
        for pid in servers:  # a failed run must not leave them either
            if running(pid):
                os.kill(pid, signal.SIGKILL)
