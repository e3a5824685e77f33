from __future__ import annotations

import asyncio
import contextlib
import json
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langchain_openai import AzureChatOpenAI, ChatOpenAI

from devtools.openai_server import OpenAIServer, RecordedRequest, Script, numbered_tokens

SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "devtools" / "openai_server.py"
CHAT_BODY: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def fresh_server(server: OpenAIServer) -> Iterator[None]:
    server.reset()
    yield
    assert server.errors == []


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as http_client:
        yield http_client


def chat_openai(server: OpenAIServer, **kwargs: Any) -> ChatOpenAI:
    options: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": "test-key",
        "model": "gpt-4o",
        "stream_usage": True,
        "max_retries": 0,
        **kwargs,
    }
    return ChatOpenAI(**options)


def sse_payloads(text: str) -> list[str]:
    assert text.endswith("\n\n")
    events = text[:-2].split("\n\n")
    assert all(event.startswith("data: ") for event in events)
    return [event.removeprefix("data: ") for event in events]


@contextlib.asynccontextmanager
async def azure_chat(
    server: OpenAIServer, deployment: str = "gpt-4o"
) -> AsyncIterator[AzureChatOpenAI]:
    llm = AzureChatOpenAI(
        azure_endpoint=server.azure_endpoint,
        azure_deployment=deployment,
        api_version="2024-10-01-preview",
        api_key="k",
        max_retries=0,
    )
    try:
        yield llm
    finally:
        # Unlike ChatOpenAI's cached default client, each AzureChatOpenAI owns its httpx
        # client; leaving it to GC leaks a socket (ResourceWarning).
        await llm.root_async_client.close()
        llm.root_client.close()


async def stream_into(llm: BaseChatModel, received: list[str]) -> None:
    async for chunk in llm.astream("hi"):
        received.append(str(chunk.content))


async def stream_lines(client: httpx.AsyncClient, url: str, lines: list[str]) -> None:
    async with client.stream("POST", url, json={**CHAT_BODY, "stream": True}) as response:
        async for line in response.aiter_lines():
            lines.append(line)


async def collect(llm: BaseChatModel, prompt: str = "hi") -> AIMessageChunk:
    merged: AIMessageChunk | None = None
    async for chunk in llm.astream(prompt):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    return merged


def exception_chain(exc: BaseException) -> list[type[BaseException]]:
    chain: list[type[BaseException]] = []
    current: BaseException | None = exc
    while current is not None:
        chain.append(type(current))
        current = current.__cause__ or current.__context__
    return chain


async def read_raw_response(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    status_line, *lines = head.removesuffix("\r\n\r\n").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    if "content-length" in headers:
        return status_line, headers, await reader.readexactly(int(headers["content-length"]))
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        data = await reader.readexactly(size + 2)
        assert data.endswith(b"\r\n")
        if size == 0:
            return status_line, headers, body
        body += data[:-2]


async def test_raw_stream_matches_openai_format(
    server: OpenAIServer, client: httpx.AsyncClient
) -> None:
    body = {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": True}}
    server.script(Script(tokens=["Hello", " world"], prompt_tokens=7))
    response = await client.post(f"{server.base_url}/chat/completions", json=body)

    assert response.status_code == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert c["model"] == "gpt-4o"
        assert isinstance(c["created"], int)
        assert c["system_fingerprint"]
    assert [c["choices"] for c in chunks[:-1]] == [
        [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "", "refusal": None},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
        [{"index": 0, "delta": {"content": "Hello"}, "logprobs": None, "finish_reason": None}],
        [{"index": 0, "delta": {"content": " world"}, "logprobs": None, "finish_reason": None}],
        [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
    ]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    usage = chunks[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (7, 2, 9)

    (req,) = server.requests
    assert req.completed
    assert req.status == 200
    assert req.chunks_sent == 2
    assert req.first_chunk_at is not None
    assert req.received_at <= req.first_chunk_at
    assert not req.disconnected
    assert req.body["stream_options"] == {"include_usage": True}


async def test_raw_stream_without_usage_has_no_usage_chunk(
    server: OpenAIServer, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        f"{server.base_url}/chat/completions", json={**CHAT_BODY, "stream": True}
    )
    chunks = [json.loads(p) for p in sse_payloads(response.text)[:-1]]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert content == Script().content


async def test_chunked_framing_and_keep_alive_on_raw_socket(server: OpenAIServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        for i in range(2):
            server.script(Script(tokens=numbered_tokens(3)))
            payload = json.dumps({**CHAT_BODY, "stream": True}).encode()
            writer.write(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%b" % (len(payload), payload)
            )
            status, headers, body = await read_raw_response(reader)
            assert status == "HTTP/1.1 200 OK"
            assert headers["transfer-encoding"] == "chunked"
            assert headers["connection"] == "keep-alive"
            assert body.endswith(b"data: [DONE]\n\n")
            assert body.count(b"data: ") == 3 + 3
            assert len(server.requests) == i + 1
    finally:
        writer.close()
        await writer.wait_closed()
    first, second = server.requests
    assert first.connection_id == second.connection_id
    assert not first.disconnected
    assert not second.disconnected


async def test_chunked_request_body_is_accepted(server: OpenAIServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        payload = json.dumps(CHAT_BODY).encode()
        half = len(payload) // 2
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"%x\r\n%b\r\n%x\r\n%b\r\n0\r\n\r\n"
            % (half, payload[:half], len(payload) - half, payload[half:])
        )
        status, _, body = await read_raw_response(reader)
    finally:
        writer.close()
        await writer.wait_closed()
    assert status == "HTTP/1.1 200 OK"
    assert json.loads(body)["object"] == "chat.completion"
    assert server.requests[0].body == CHAT_BODY


async def test_httpx_reuses_connection(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    for _ in range(3):
        async with client.stream(
            "POST", f"{server.base_url}/chat/completions", json={**CHAT_BODY, "stream": True}
        ) as response:
            lines = [line async for line in response.aiter_lines() if line]
        assert lines[-1] == "data: [DONE]"
    response = await client.post(f"{server.base_url}/chat/completions", json=CHAT_BODY)
    assert response.status_code == 200
    assert len({r.connection_id for r in server.requests}) == 1
    assert all(r.completed and not r.disconnected for r in server.requests)


async def test_raw_non_stream_completion(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.script(Script(tokens=["a ", "b"], prompt_tokens=3))
    response = await client.post(f"{server.base_url}/chat/completions", json=CHAT_BODY)
    data = response.json()
    assert response.headers["content-type"] == "application/json"
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"] == {
        "role": "assistant",
        "content": "a b",
        "refusal": None,
        "annotations": [],
    }
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["total_tokens"] == 5


async def test_unknown_path_and_bad_body(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    response = await client.get(f"{server.base_url}/models")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = await client.post(f"{server.base_url}/chat/completions", content=b"{nope")
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert server.pending_scripts == 0


async def test_chat_openai_astream(server: OpenAIServer) -> None:
    server.script(Script(tokens=["One ", "two ", "three."], prompt_tokens=11))
    message = await collect(chat_openai(server))

    assert message.content == "One two three."
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == 11
    assert message.usage_metadata["output_tokens"] == 3
    assert message.usage_metadata["total_tokens"] == 14
    assert message.response_metadata["finish_reason"] == "stop"
    (req,) = server.requests
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer test-key"
    assert req.api_key == "test-key"
    assert req.stream
    assert req.body["stream_options"] == {"include_usage": True}
    assert req.body["messages"] == [{"role": "user", "content": "hi"}]
    assert req.completed


async def test_chat_openai_ainvoke(server: OpenAIServer) -> None:
    server.script(Script.from_text("Not streamed at all.", prompt_tokens=4))
    message = await chat_openai(server).ainvoke("hi")
    assert message.content == "Not streamed at all."
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 4
    (req,) = server.requests
    assert not req.stream
    assert req.completed


async def test_azure_chat_openai_astream(server: OpenAIServer) -> None:
    server.script(Script(tokens=["Azure ", "says ", "hi"]))
    async with azure_chat(server) as llm:
        message = await collect(llm)
    assert message.content == "Azure says hi"
    (req,) = server.requests
    assert req.path == "/openai/deployments/gpt-4o/chat/completions"
    assert req.deployment == "gpt-4o"
    assert req.api_version == "2024-10-01-preview"
    assert req.headers["api-key"] == "k"
    assert req.api_key == "k"
    assert req.completed


async def test_status_500_raises_internal_server_error(server: OpenAIServer) -> None:
    server.script(Script(status=500))
    with pytest.raises(openai.InternalServerError) as excinfo:
        await collect(chat_openai(server))
    assert excinfo.value.status_code == 500
    assert excinfo.value.body == {
        "message": "Scripted error 500",
        "type": "server_error",
        "param": None,
        "code": "internal_error",
    }
    (req,) = server.requests
    assert req.status == 500
    assert not req.completed


async def test_status_500_is_retried(server: OpenAIServer) -> None:
    server.script(Script(status=500, retry_after=0.01), times=2)
    with pytest.raises(openai.InternalServerError):
        await collect(chat_openai(server, max_retries=1))
    assert [r.status for r in server.requests] == [500, 500]
    assert server.pending_scripts == 0


async def test_retry_then_success(server: OpenAIServer) -> None:
    server.script(Script(status=503, retry_after=0.01))
    server.script(Script(tokens=["ok"]))
    message = await collect(chat_openai(server, max_retries=1))
    assert message.content == "ok"
    assert [r.status for r in server.requests] == [503, 200]


async def test_status_429_raises_rate_limit_error(server: OpenAIServer) -> None:
    server.script(Script(status=429, error_message="slow down"))
    with pytest.raises(openai.RateLimitError, match="slow down"):
        await chat_openai(server).ainvoke("hi")


async def test_expected_api_key() -> None:
    with OpenAIServer(expected_api_key="right") as srv:
        with pytest.raises(openai.AuthenticationError):
            await collect(chat_openai(srv, api_key="wrong"))
        assert (await collect(chat_openai(srv, api_key="right"))).content == Script().content
        assert [r.status for r in srv.requests] == [401, 200]
        assert srv.errors == []


async def test_cut_after_raises_connection_error_mid_stream(server: OpenAIServer) -> None:
    server.script(Script(tokens=numbered_tokens(5), cut_after=2))
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError) as excinfo:
        await stream_into(chat_openai(server), received)
    assert "".join(received) == "tok0 tok1 "
    assert exception_chain(excinfo.value)[-1].__name__ == "RemoteProtocolError"
    (req,) = server.requests
    assert req.wait_finished(1)
    assert req.chunks_sent == 2
    assert not req.completed
    assert not req.disconnected


async def test_cut_after_with_raw_httpx(server: OpenAIServer, client: httpx.AsyncClient) -> None:
    server.script(Script(tokens=numbered_tokens(5), cut_after=3))
    lines: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        await stream_lines(client, f"{server.base_url}/chat/completions", lines)
    assert len([line for line in lines if line.startswith("data: ")]) == 1 + 3
    assert "data: [DONE]" not in lines


async def test_invalid_json_raises(server: OpenAIServer) -> None:
    server.script(Script(tokens=numbered_tokens(5), invalid_json_after=1))
    with pytest.raises(json.JSONDecodeError):
        await collect(chat_openai(server))
    (req,) = server.requests
    assert req.chunks_sent == 1
    assert not req.completed


async def disconnect_latency(server: OpenAIServer, task: asyncio.Task[Any]) -> float:
    (req,) = await server.wait_for_requests_async(1, timeout=2)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await req.wait_disconnected_async(1.0)
    assert req.disconnected_at is not None
    assert not req.completed
    return req.disconnected_at - cancelled_at


async def test_disconnect_while_hanging(server: OpenAIServer) -> None:
    server.script(Script(hang=True))
    task = asyncio.create_task(collect(chat_openai(server)))
    await asyncio.sleep(0.05)
    assert await disconnect_latency(server, task) < 1.0
    (req,) = server.requests
    assert req.first_chunk_at is None


async def test_disconnect_during_paced_stream(server: OpenAIServer) -> None:
    server.script(Script(tokens=numbered_tokens(100), delay=0.02))
    received: list[str] = []
    task = asyncio.create_task(stream_into(chat_openai(server), received))
    while len([c for c in received if c]) < 5:
        await asyncio.sleep(0.005)
    assert await disconnect_latency(server, task) < 1.0
    (req,) = server.requests
    assert 5 <= req.chunks_sent < 100


async def test_disconnect_during_hang_after(server: OpenAIServer) -> None:
    server.script(Script(tokens=numbered_tokens(10), hang_after=2))
    received: list[str] = []
    task = asyncio.create_task(stream_into(chat_openai(server), received))
    await asyncio.sleep(0.2)
    assert "".join(received) == "tok0 tok1 "
    assert await disconnect_latency(server, task) < 1.0


async def test_closing_httpx_response_mid_stream(
    server: OpenAIServer, client: httpx.AsyncClient
) -> None:
    server.script(Script(tokens=numbered_tokens(50), delay=0.02))
    async with client.stream(
        "POST", f"{server.base_url}/chat/completions", json={**CHAT_BODY, "stream": True}
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith('data: {"id"') and "tok2" in line:
                break
        closed_at = time.monotonic()
    (req,) = server.requests
    assert await req.wait_disconnected_async(1.0)
    assert req.disconnected_at is not None
    assert req.disconnected_at - closed_at < 1.0


async def test_close_after_completion_is_not_a_disconnect(server: OpenAIServer) -> None:
    async with httpx.AsyncClient() as own_client:
        response = await own_client.post(
            f"{server.base_url}/chat/completions", json={**CHAT_BODY, "stream": True}
        )
        assert response.text.endswith("data: [DONE]\n\n")
    (req,) = server.requests
    assert req.wait_finished(1)
    await asyncio.sleep(0.05)
    assert req.completed
    assert not req.disconnected


async def test_client_timeout_while_hanging(server: OpenAIServer) -> None:
    server.script(Script(hang=True))
    with pytest.raises(openai.APITimeoutError):
        await collect(chat_openai(server, timeout=0.2))
    (req,) = server.requests
    assert await req.wait_disconnected_async(1.0)


def test_stop_while_hanging_finishes_requests() -> None:
    srv = OpenAIServer(default_script=Script(hang=True)).start()
    payload = json.dumps(CHAT_BODY).encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(payload), payload)
        )
        (req,) = srv.wait_for_requests(1)
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 1.0
        assert sock.recv(1024) == b""
    assert req.wait_finished(0)
    assert not req.completed
    assert req.first_chunk_at is None
    assert srv.errors == []


async def test_first_token_delay_and_pacing(server: OpenAIServer) -> None:
    server.script(Script(tokens=numbered_tokens(3), first_token_delay=0.1, delay=0.05))
    message = await collect(chat_openai(server))
    assert message.content == "tok0 tok1 tok2 "
    (req,) = server.requests
    assert req.first_chunk_at is not None
    assert req.finished_at is not None
    assert req.first_chunk_at - req.received_at >= 0.1
    assert req.finished_at - req.first_chunk_at >= 0.1


async def test_queue_is_fifo_then_default(server: OpenAIServer) -> None:
    server.script(Script(tokens=["first"]))
    server.script(Script(tokens=["second"]), times=2)
    server.default_script = Script(tokens=["default"])
    llm = chat_openai(server)
    contents = [(await llm.ainvoke("hi")).content for _ in range(4)]
    assert contents == ["first", "second", "second", "default"]
    server.reset()
    assert (await llm.ainvoke("hi")).content == Script().content


async def test_model_name_script_control(server: OpenAIServer) -> None:
    server.script(Script(tokens=["queued"]))
    llm = chat_openai(server, model="script:tokens=4,delay=0.01,prompt_tokens=2")
    message = await collect(llm)
    assert message.content == "tok0 tok1 tok2 tok3 "
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == 2
    assert server.pending_scripts == 1
    (req,) = server.requests
    assert req.script == Script(tokens=numbered_tokens(4), delay=0.01, prompt_tokens=2)

    with pytest.raises(openai.InternalServerError):
        await collect(chat_openai(server, model="script:status=503"))


async def test_azure_deployment_script_control(server: OpenAIServer) -> None:
    async with azure_chat(server, "script:tokens=2,first_token_delay=0.01") as llm:
        assert (await llm.ainvoke("hi")).content == "tok0 tok1 "
    (req,) = server.requests
    assert req.deployment == "script:tokens=2,first_token_delay=0.01"


def test_script_parse() -> None:
    script = Script.parse("tokens=3,delay=0.5,status=429,cut_after=1,hang=true")
    assert script == Script(
        tokens=["tok0 ", "tok1 ", "tok2 "], delay=0.5, status=429, cut_after=1, hang=True
    )
    assert Script.parse("hang") == Script(hang=True)
    with pytest.raises(ValueError, match="invalid script item"):
        Script.parse("bogus=1")


def test_sync_usage_and_wait_timeout(server: OpenAIServer) -> None:
    with pytest.raises(TimeoutError):
        server.wait_for_requests(1, timeout=0.01)
    with httpx.Client() as http_client:
        response = http_client.post(f"{server.base_url}/chat/completions", json=CHAT_BODY)
    assert response.status_code == 200
    requests: list[RecordedRequest] = server.wait_for_requests(1, timeout=1)
    assert requests[0].completed


@pytest.mark.process
def test_cli_serves_until_sigterm() -> None:
    command = [sys.executable, str(SERVER_SCRIPT), "--port", "0", "--tokens", "3", "--delay", "0"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 15)
            assert ready, "server did not print its URL"
            base_url = proc.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:")
            assert base_url.endswith("/v1")
            with httpx.Client(timeout=5) as http_client:
                response = http_client.post(
                    f"{base_url}/chat/completions", json={**CHAT_BODY, "stream": True}
                )
            assert response.status_code == 200
            chunks = [json.loads(p) for p in sse_payloads(response.text)[:-1]]
            content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
            assert content == "tok0 tok1 tok2 "
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
    assert "'requests': 1" in stderr
