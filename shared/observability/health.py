"""A minimal HTTP endpoint per service: /healthz (liveness), /readyz (readiness), /metrics.

Plain asyncio so it costs no extra dependency and runs on the service's own loop. Each probe
is a list of named checks; the answer is 200 when all pass and 503 otherwise, with a JSON
body naming every check, whether it passed and why:

    {"status": "ok", "checks": [{"name": "consume_loop", "ok": true, "detail": "..."}]}

The checks themselves belong to the process (see shared/messaging/app.py and the contract
in docs/runtime.md). A probe that raises counts as failed, never as passed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

JSON = "application/json"
PROBE_TIMEOUT_S = 10.0  # a check that hangs answers 503 rather than never


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


Probe = Callable[[], Awaitable[list[Check]]]


class Component(Protocol):
    """Something deep in the process whose failure the probes must report (a model's
    batcher, say), without the runtime knowing it exists."""

    def health_check(self) -> Check: ...


# Weak, so a component that is gone (a closed model in a test) drops out by itself.
_components: weakref.WeakSet[Component] = weakref.WeakSet()


def register_component(component: Component) -> None:
    _components.add(component)


def unregister_component(component: Component) -> None:
    _components.discard(component)


def component_checks() -> list[Check]:
    return [c.health_check() for c in list(_components)]


async def _always_ok() -> list[Check]:
    return [Check("process", True, "serving")]


def report(checks: list[Check]) -> tuple[bool, bytes]:
    ok = all(c.ok for c in checks)
    body = {"status": "ok" if ok else "fail", "checks": [asdict(c) for c in checks]}
    return ok, (json.dumps(body, separators=(",", ":")) + "\n").encode()


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        liveness: Probe = _always_ok,
        readiness: Probe = _always_ok,
    ) -> None:
        self._host, self._port = host, port
        self._probes = {"/healthz": liveness, "/readyz": readiness}
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info("health endpoint on http://%s:%d", self._host, self.port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _probe(self, name: str, probe: Probe) -> list[Check]:
        try:
            return await asyncio.wait_for(probe(), PROBE_TIMEOUT_S)
        except Exception as exc:
            log.warning("%s probe failed: %s", name, type(exc).__name__)
            return [Check("probe", False, f"the probe itself failed: {type(exc).__name__}")]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) > 1 else "/"
            if path in self._probes:
                ok, body = report(await self._probe(path, self._probes[path]))
                status = "200 OK" if ok else "503 Service Unavailable"
                ctype = JSON
            elif path == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest()
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"not found\n"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode("latin-1")
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
