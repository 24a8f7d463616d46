"""The fake OpenAI server itself: wire format, fault injection, standalone mode."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
import urllib.request
from typing import Any, Literal

import openai
import pytest
from PIL import Image
from pydantic import BaseModel

from tests.fakes.openai_server import FakeOpenAIServer, Fault, fill_schema, tiny_png


class Item(BaseModel):
    name: str
    qty: int
    kind: Literal["fruit", "veg"]


class Basket(BaseModel):
    owner: str | None
    items: list[Item]
    paid: bool
    total: float


async def test_structured_output_through_the_sdk(server: FakeOpenAIServer) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    try:
        completion = await client.chat.completions.parse(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "apples"}],
            response_format=Basket,
        )
    finally:
        await client.close()
    basket = completion.choices[0].message.parsed
    assert isinstance(basket, Basket)
    assert basket.owner == "apples" and basket.items[0].kind == "fruit"
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_fill_schema_handles_refs_enums_and_nullables() -> None:
    schema = Basket.model_json_schema()
    value = fill_schema(schema, "hello")
    assert Basket.model_validate(value).items[0].name == "hello"


def test_tiny_png_is_valid() -> None:
    image = Image.open(io.BytesIO(tiny_png(4, (1, 2, 3))))
    assert image.format == "PNG" and image.size == (4, 4)
    assert image.convert("RGB").getpixel((0, 0)) == (1, 2, 3)


async def test_faults_apply_in_order_then_normal(server: FakeOpenAIServer) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    server.inject(Fault.error(503), Fault.rate_limit(7))
    try:
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="m", messages=[])
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="m", messages=[])
        assert limited.value.response.headers["retry-after"] == "7"
        ok = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        assert ok.choices[0].message.content == "Fake answer: hi"
    finally:
        await client.close()
    assert len(server.requests) == 3


async def test_async_responder_and_request_recording(server: FakeOpenAIServer) -> None:
    async def responder(body: dict[str, Any]) -> str:
        await asyncio.sleep(0)
        return str(body["messages"][0]["content"]).upper()

    server.responder = responder
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    try:
        out = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "shout"}]
        )
    finally:
        await client.close()
    assert out.choices[0].message.content == "SHOUT"
    assert server.requests[0].json["messages"][0]["content"] == "shout"
    assert server.requests[0].path == "/v1/chat/completions"


def _http(url: str, data: dict[str, Any] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(data).encode() if data is not None else None,
        headers={"content-type": "application/json"},
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_standalone_process_with_control_endpoints() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base_url = line.strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:")
        root = base_url.removesuffix("/v1")

        status, _ = _http(f"{root}/_fake/faults", {"faults": [{"kind": "status", "status": 502}]})
        assert status == 200
        status, body = _http(f"{base_url}/chat/completions", {"model": "m", "messages": []})
        assert status == 502 and body["error"]["message"] == "injected failure"
        status, body = _http(
            f"{base_url}/chat/completions",
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
        )
        assert status == 200 and body["choices"][0]["message"]["content"] == "Fake answer: x"
        status, body = _http(f"{base_url}/images/generations", {"prompt": "cat", "n": 2})
        assert status == 200 and len(body["data"]) == 2
        _, recorded = _http(f"{root}/_fake/requests")
        assert [r["path"] for r in recorded["requests"]] == [
            "/v1/chat/completions",
            "/v1/chat/completions",
            "/v1/images/generations",
        ]
        _http(f"{root}/_fake/reset", {})
        _, recorded = _http(f"{root}/_fake/requests")
        assert recorded["requests"] == []
        status, _ = _http(f"{base_url}/nope", {})
        assert status == 404
    finally:
        proc.terminate()
        proc.wait(timeout=5)


async def test_oversized_body_is_refused(server: FakeOpenAIServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 999999999\r\n\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert b" 413 " in status_line
    writer.close()


async def test_close_does_not_wait_for_slow_answers() -> None:
    server = await FakeOpenAIServer().start()
    server.always(Fault.slow(30))
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=5)
    call = asyncio.create_task(client.chat.completions.create(model="m", messages=[]))
    await asyncio.sleep(0.1)
    started = time.perf_counter()
    await server.close()
    assert time.perf_counter() - started < 2
    with pytest.raises(openai.APIConnectionError):
        await call
    await client.close()
