"""A fake of the OpenAI HTTP API, for tests that drive the real `openai` SDK.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length and chunked bodies) on top of
`asyncio` streams, so it needs nothing beyond the standard library and lets a test break the
transport in ways a framework would hide (connection resets, half-written bodies).

Endpoints:
  POST /v1/chat/completions   honours `response_format` json_schema: the default responder
                              fills the schema with values taken from the prompt; a test can
                              pass its own `responder(body) -> str | dict`.
  POST /v1/images/generations a small valid PNG as `b64_json`, with usage.
  POST /v1/moderations        one result per input, in the omni-moderation shape; nothing is
                              flagged unless a test says so: `flag("Pistole", categories=
                              ("violence",))`, or its own `moderation(text) -> categories`.
  POST /_fake/faults          (standalone use) {"faults": [...], "always": {...} | null}
  GET  /_fake/requests        (standalone use) the recorded request bodies
  POST /_fake/reset           (standalone use) forget requests and faults

Fault injection: `inject(Fault.error(500), Fault.rate_limit(1.0), ...)` queues one fault per
coming request; `always(fault)` applies one to every request until `always(None)`. Kinds:
error status, 429 with Retry-After, slow answer, malformed body, schema-invalid content,
truncated (`finish_reason: length`), connection reset.

Bounded: headers 64 KiB, bodies 8 MiB, 128 concurrent connections, 1000 recorded requests,
30 s idle keep-alive; `close()` cancels whatever is still being answered.

In tests::

    async with FakeOpenAIServer() as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        ...
        assert "alice@example.com" not in server.requests[0].text

Standalone::

    python -m tests.fakes.openai_server --port 8089
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import inspect
import itertools
import json
import logging
import socket
import struct
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_RECORDED_REQUESTS = 1000
MAX_CONNECTIONS = 128
IDLE_TIMEOUT_S = 30.0

JSON = dict[str, Any]
Responder = Callable[[JSON], "str | JSON | Awaitable[str | JSON]"]
# The categories a moderation input is flagged for (empty: not flagged).
Moderator = Callable[[str], "tuple[str, ...]"]

# Every category omni-moderation reports, by its wire name.
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)

FaultKind = Literal[
    "status", "rate_limit", "slow", "malformed_body", "malformed_content", "truncated", "reset"
]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Fault:
    """One misbehaviour applied to one request (or to all, with `always`)."""

    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    delay_s: float = 0.0

    @classmethod
    def error(cls, status: int = 500) -> Fault:
        """Answer with an OpenAI-style error body and this status."""
        return cls("status", status=status)

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1.0) -> Fault:
        """429 with a `Retry-After` header (seconds; fractional values are sent as-is)."""
        return cls("rate_limit", status=429, retry_after=retry_after)

    @classmethod
    def slow(cls, delay_s: float) -> Fault:
        """Wait `delay_s` before answering normally (for client timeouts)."""
        return cls("slow", delay_s=delay_s)

    @classmethod
    def malformed_body(cls) -> Fault:
        """200 with a body that is not JSON at all."""
        return cls("malformed_body")

    @classmethod
    def malformed_content(cls) -> Fault:
        """A valid completion whose message content is not valid JSON for the schema."""
        return cls("malformed_content")

    @classmethod
    def truncated(cls) -> Fault:
        """A completion cut off by the token limit (`finish_reason: length`)."""
        return cls("truncated")

    @classmethod
    def reset(cls) -> Fault:
        """Read the request, then reset the TCP connection without answering."""
        return cls("reset")

    @classmethod
    def from_dict(cls, data: JSON) -> Fault:
        return cls(
            kind=data["kind"],
            status=int(data.get("status", 500)),
            retry_after=data.get("retry_after"),
            delay_s=float(data.get("delay_s", 0.0)),
        )


@dataclass
class RecordedRequest:
    """A request as it reached the server."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --- content generation ----------------------------------------------------------------


def prompt_text(body: JSON) -> str:
    """The last user message's text (string or content parts)."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(
                part.get("text", "") for part in content if isinstance(part, dict)
            ).strip()
    return ""


def fill_schema(schema: JSON, text: str, *, root: JSON | None = None) -> Any:
    """A value valid against `schema` (the subset structured outputs allow), built from `text`."""
    root = root if root is not None else schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        defs = root.get("$defs") or root.get("definitions") or {}
        return fill_schema(defs[name], text, root=root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return fill_schema(options[0], text, root=root)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: JSON = schema.get("properties", {})
        return {name: fill_schema(sub, text, root=root) for name, sub in props.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [fill_schema(schema.get("items", {}), text, root=root) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 0.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return text[: int(schema.get("maxLength", 400))] or "ok"


def default_responder(body: JSON) -> str | JSON:
    """Echo the prompt: as a schema-valid object when structured output is asked for."""
    text = prompt_text(body)
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema", {}).get("schema", {})
        value = fill_schema(schema, text)
        return value if isinstance(value, dict) else {"value": value}
    if response_format.get("type") == "json_object":
        return {"text": text}
    return f"Fake answer: {text}"


def estimate_tokens(text: str) -> int:
    """About four characters a token, as a stand-in for a tokenizer."""
    return max(1, len(text) // 4)


def tiny_png(size: int = 8, rgb: tuple[int, int, int] = (255, 204, 0)) -> bytes:
    """A valid solid-colour PNG, built with zlib (no imaging library needed)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        payload = tag + data
        return struct.pack(">I", len(data)) + payload + struct.pack(">I", zlib.crc32(payload))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


# --- server ----------------------------------------------------------------------------


class FakeOpenAIServer:
    """In-process fake OpenAI endpoint on 127.0.0.1 (ephemeral port by default)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        responder: Responder | None = None,
        moderation: Moderator | None = None,
        max_recorded: int = MAX_RECORDED_REQUESTS,
    ) -> None:
        self.host = host
        self.port = port
        self.responder: Responder = responder or default_responder
        self.moderation: Moderator = moderation or (lambda text: ())
        self._recorded: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self._faults: deque[Fault] = deque()
        self._always: Fault | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._limit = asyncio.Semaphore(MAX_CONNECTIONS)

    # -- lifecycle

    async def start(self) -> FakeOpenAIServer:
        self._server = await asyncio.start_server(
            self._on_connection, self.host, self.port, limit=MAX_HEADER_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.debug("fake OpenAI server listening on %s", self.base_url)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeOpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- test controls

    def inject(self, *faults: Fault) -> None:
        """Queue faults, one per coming request, before normal answers resume."""
        self._faults.extend(faults)

    def always(self, fault: Fault | None) -> None:
        """Apply `fault` to every request (after queued ones); None to stop."""
        self._always = fault

    def flag(self, *needles: str, categories: tuple[str, ...] = ("violence",)) -> None:
        """Moderation flags any input containing one of `needles` (case-insensitive)."""
        wanted = tuple(n.casefold() for n in needles)
        unknown = set(categories) - set(MODERATION_CATEGORIES)
        if unknown:
            raise ValueError(f"unknown moderation categories {sorted(unknown)}")

        def moderate(text: str) -> tuple[str, ...]:
            folded = text.casefold()
            return categories if any(n in folded for n in wanted) else ()

        self.moderation = moderate

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The recorded requests to one endpoint, e.g. "/v1/images/generations"."""
        return [r for r in self._recorded if r.path == path]

    def reset(self) -> None:
        self._faults.clear()
        self._always = None
        self._recorded.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._recorded)

    def bodies(self) -> list[str]:
        return [r.text for r in self._recorded]

    def _next_fault(self) -> Fault | None:
        if self._faults:
            return self._faults.popleft()
        return self._always

    # -- HTTP

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            async with self._limit:
                await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
            except asyncio.IncompleteReadError:
                return  # client closed the keep-alive connection
            except asyncio.LimitOverrunError:
                await self._send(writer, 413, {"error": {"message": "headers too large"}})
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            try:
                body = await self._read_body(reader, headers)
            except _HttpError as exc:
                await self._send(writer, exc.status, _error_body(str(exc)))
                return
            path = target.split("?", 1)[0]
            request = RecordedRequest(method, path, headers, body)
            if not path.startswith("/_fake/"):
                self._recorded.append(request)
            keep_alive = headers.get("connection", "").lower() != "close"
            if not await self._dispatch(request, writer):
                return
            if not keep_alive:
                return

    async def _read_body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            total = 0
            while True:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readline()
                    return b"".join(parts)
                total += size
                if total > MAX_BODY_BYTES:
                    raise _HttpError(413, "body too large")
                parts.append(await reader.readexactly(size))
                await reader.readline()
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY_BYTES:
            raise _HttpError(413, "body too large")
        return await reader.readexactly(length) if length else b""

    async def _dispatch(self, request: RecordedRequest, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must not be reused."""
        if request.path.startswith("/_fake/"):
            status, payload = self._control(request)
            await self._send(writer, status, payload)
            return True
        routes = {
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/images/generations"): self._image,
            ("POST", "/v1/moderations"): self._moderate,
        }
        handler = routes.get((request.method, request.path))
        if handler is None:
            await self._send(writer, 404, _error_body(f"no route {request.path}"))
            return True
        try:
            body = request.json
        except ValueError:
            await self._send(writer, 400, _error_body("request body is not JSON"))
            return True

        fault = self._next_fault()
        if fault is not None:
            if fault.kind == "reset":
                _reset(writer)
                return False
            if fault.kind == "status":
                await self._send(writer, fault.status, _error_body("injected failure", "server"))
                return True
            if fault.kind == "rate_limit":
                extra = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after}"}
                await self._send(writer, 429, _error_body("rate limited", "rate_limit"), extra)
                return True
            if fault.kind == "malformed_body":
                await self._send_raw(writer, 200, b'{"id": "chatcmpl-broken", "choices": [')
                return True
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay_s)

        kind = fault.kind if fault is not None else None
        payload = await handler(body, malformed=kind == "malformed_content")
        if kind == "truncated" and "choices" in payload:
            payload["choices"][0]["finish_reason"] = "length"
        await self._send(writer, 200, payload)
        return True

    async def _chat(self, body: JSON, *, malformed: bool) -> JSON:
        if malformed:
            content = '{"summary": "unterminated'
        else:
            reply = self.responder(body)
            if inspect.isawaitable(reply):
                reply = await reply
            content = reply if isinstance(reply, str) else json.dumps(reply)
        prompt = " ".join(
            m["content"] if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
            for m in body.get("messages") or []
        )
        prompt_tokens = estimate_tokens(prompt)
        completion_tokens = estimate_tokens(content)
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    async def _image(self, body: JSON, *, malformed: bool) -> JSON:
        prompt = str(body.get("prompt", ""))
        count = int(body.get("n") or 1)
        image = base64.b64encode(tiny_png()).decode("ascii")
        text_tokens = estimate_tokens(prompt)
        return {
            "created": int(time.time()),
            "data": [
                {"b64_json": "not base64!" if malformed else image, "revised_prompt": prompt}
                for _ in range(count)
            ],
            "output_format": "png",
            "usage": {
                "input_tokens": text_tokens,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": text_tokens},
                "output_tokens": 272 * count,
                "total_tokens": text_tokens + 272 * count,
            },
        }

    async def _moderate(self, body: JSON, *, malformed: bool) -> JSON:
        raw = body.get("input", "")
        inputs = raw if isinstance(raw, list) else [raw]
        texts = [
            item if isinstance(item, str) else str(item.get("text", ""))
            for item in inputs
            if isinstance(item, (str, dict))
        ]
        results: list[JSON] = []
        for text in texts:
            hit = set(self.moderation(text))
            results.append(
                {
                    "flagged": bool(hit),
                    "categories": {c: c in hit for c in MODERATION_CATEGORIES},
                    "category_scores": {
                        c: (0.97 if c in hit else 0.0004) for c in MODERATION_CATEGORIES
                    },
                    "category_applied_input_types": {
                        c: (["text"] if c in hit else []) for c in MODERATION_CATEGORIES
                    },
                }
            )
        if malformed:
            results = []
        return {
            "id": f"modr-fake-{next(self._ids)}",
            "model": body.get("model", "omni-moderation-latest"),
            "results": results,
        }

    def _control(self, request: RecordedRequest) -> tuple[int, JSON]:
        if request.path == "/_fake/requests" and request.method == "GET":
            return 200, {
                "requests": [
                    {"method": r.method, "path": r.path, "body": r.text} for r in self._recorded
                ]
            }
        if request.path == "/_fake/reset" and request.method == "POST":
            self.reset()
            return 200, {"ok": True}
        if request.path == "/_fake/faults" and request.method == "POST":
            data = request.json or {}
            self.inject(*(Fault.from_dict(f) for f in data.get("faults", [])))
            if "always" in data:
                always = data["always"]
                self.always(Fault.from_dict(always) if always else None)
            return 200, {
                "queued": [asdict(f) for f in self._faults],
                "always": asdict(self._always) if self._always else None,
            }
        return 404, _error_body(f"no control route {request.path}")

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: JSON,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        await self._send_raw(writer, status, json.dumps(payload).encode(), extra_headers)

    async def _send_raw(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        headers = {
            "content-type": "application/json",
            "content-length": str(len(body)),
            "connection": "keep-alive",
            **(extra_headers or {}),
        }
        head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1") + body)
        await writer.drain()


def _error_body(message: str, kind: str = "invalid_request_error") -> JSON:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST instead of FIN (SO_LINGER 0), as a crashed proxy would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _serve_forever(host: str, port: int) -> None:
    async with FakeOpenAIServer(host=host, port=port) as server:
        print(f"fake OpenAI API at {server.base_url}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI API for local tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.host, args.port))


if __name__ == "__main__":
    main()
