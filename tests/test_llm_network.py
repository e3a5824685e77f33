"""app/llm/network.py and its transport over real sockets: timeouts, Happy Eyeballs, stale
connections, and which model client the service builds (proxies, LLM_FAST_PATH)."""

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpcore2
import httpx2
import pytest
import pytest_asyncio

from app.config import Settings
from app.llm import build_chat_model
from app.llm.network import AsyncioBackend, AsyncioStream, happy_eyeballs
from app.llm.pool import PoolTransport
from app.llm.transport import environment_proxy_applies
from devtools.openai_server import OpenAIServer, Script
from devtools.tcp_proxy import TcpRelay
from devtools.waiting import eventually

BODY = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as openai:
        yield openai


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def full_port() -> Iterator[int]:
    """A port whose accept queue is full: a connection to it neither succeeds nor is refused."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    try:
        yield port
    finally:
        filler.close()
        listener.close()


def pool_client(connect_timeout: float = 5.0) -> httpx2.AsyncClient:
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=10)
    transport = PoolTransport(ssl.create_default_context(), limits)
    return httpx2.AsyncClient(
        transport=transport, timeout=httpx2.Timeout(5.0, connect=connect_timeout)
    )


async def stream(http: httpx2.AsyncClient, base_url: str) -> tuple[str, Any]:
    """The body and the network stream it came on (httpcore's public response extension)."""
    async with http.stream("POST", f"{base_url}/chat/completions", json=BODY) as response:
        assert response.status_code == 200
        body = "".join([text async for text in response.aiter_text()])
        return body, response.extensions["network_stream"]


async def test_a_connect_that_gets_no_answer_times_out(full_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(httpcore2.ConnectTimeout):
        await AsyncioBackend().connect_tcp("127.0.0.1", full_port, timeout=0.3)
    async with pool_client(connect_timeout=0.3) as http:
        with pytest.raises(httpx2.ConnectTimeout):
            await http.get(f"http://127.0.0.1:{full_port}/")
    assert time.monotonic() - started < 3


async def test_happy_eyeballs_tries_the_next_address_when_one_does_not_answer(
    server: OpenAIServer, full_port: int
) -> None:
    port = int(server.base_url.split(":")[-1].split("/")[0])
    addresses: list[tuple[Any, ...]] = [
        (socket.AF_INET, ("127.0.0.1", full_port)),
        (socket.AF_INET, ("127.0.0.1", port)),
    ]
    started = time.monotonic()
    sock = await happy_eyeballs(addresses, None, [], delay=0.25)
    elapsed = time.monotonic() - started
    try:
        assert sock.getpeername() == ("127.0.0.1", port)
    finally:
        sock.close()
    assert 0.2 <= elapsed < 2


async def test_happy_eyeballs_moves_on_at_once_from_a_refused_address(
    server: OpenAIServer,
) -> None:
    port = int(server.base_url.split(":")[-1].split("/")[0])
    addresses: list[tuple[Any, ...]] = [
        (socket.AF_INET, ("127.0.0.1", 1)),
        (socket.AF_INET, ("127.0.0.1", port)),
    ]
    started = time.monotonic()
    sock = await happy_eyeballs(addresses, None, [], delay=5.0)
    sock.close()
    assert time.monotonic() - started < 1


async def test_every_address_refused_is_a_connect_error() -> None:
    with pytest.raises(httpcore2.ConnectError):
        await AsyncioBackend().connect_tcp("localhost", 1, timeout=2.0)


@pytest_asyncio.fixture
async def relay(server: OpenAIServer) -> AsyncIterator[TcpRelay]:
    port = int(server.base_url.split(":")[-1].split("/")[0])
    async with TcpRelay("127.0.0.1", port) as tcp:
        yield tcp


async def test_a_pooled_connection_the_server_closed_is_not_reused(
    server: OpenAIServer, relay: TcpRelay
) -> None:
    server.reset()
    server.default_script = Script(tokens=["alpha", "beta"])
    base_url = f"http://127.0.0.1:{relay.port}/v1"
    async with pool_client() as http:
        body, network_stream = await stream(http, base_url)
        assert isinstance(network_stream, AsyncioStream)
        assert not network_stream.get_extra_info("is_readable")
        await relay.stop()
        await eventually(lambda: network_stream.get_extra_info("is_readable"), within=5.0)
        await relay.start()
        again, second_stream = await stream(http, base_url)
    assert '"content":"beta"' in body
    assert '"content":"beta"' in again
    assert second_stream is not network_stream


@pytest.mark.parametrize(
    ("variables", "url", "applies"),
    [
        ({}, "https://api.openai.com/v1", False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "https://api.openai.com/v1", True),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "http://127.0.0.1:8000/v1", False),
        ({"HTTP_PROXY": "http://proxy:3128"}, "http://127.0.0.1:8000/v1", True),
        ({"ALL_PROXY": "socks5://proxy:1080"}, "https://example.com", True),
        ({"https_proxy": "http://proxy:3128"}, "https://example.com", True),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://example.com", False),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://example.com", False),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://a.example.com", False),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://badexample.com", True),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".example.com"}, "https://example.com", True),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".example.com"}, "https://a.example.com", False),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*.example.com"}, "https://example.com", True),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "a.com, 10.0.0.1"}, "https://10.0.0.1", False),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.1"}, "https://110.0.0.1", True),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "::1"}, "https://[::1]:8443", False),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "LocalHost"}, "https://localhost", False),
        # Entries left to the stock client, which understands them.
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3", True),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com:443"}, "https://example.com", True),
    ],
)
def test_which_urls_an_environment_proxy_applies_to(
    no_proxy_env: pytest.MonkeyPatch, variables: dict[str, str], url: str, applies: bool
) -> None:
    for name, value in variables.items():
        no_proxy_env.setenv(name, value)
    assert environment_proxy_applies(url) is applies


@pytest.mark.parametrize("fast", [True, False])
async def test_llm_fast_path_chooses_the_network_path(
    server: OpenAIServer, no_proxy_env: pytest.MonkeyPatch, fast: bool
) -> None:
    server.reset()
    server.default_script = Script(tokens=["one"])
    settings = Settings(
        llm_provider="openai",
        openai_api_key="x",
        openai_base_url=server.base_url,
        llm_max_retries=0,
        llm_fast_path=fast,
    )
    chat = build_chat_model(settings)
    try:
        assert chat.http_client is not None
        body, network_stream = await stream(chat.http_client, server.base_url)
    finally:
        await chat.aclose()
    assert '"content":"one"' in body
    assert isinstance(network_stream, AsyncioStream) is fast


async def test_many_concurrent_streams_each_get_their_own_answer(server: OpenAIServer) -> None:
    server.reset()
    server.default_script = Script(tokens=[f"t{i}" for i in range(50)], delay=0.002)
    async with pool_client() as http:
        bodies = await asyncio.gather(*(stream(http, server.base_url) for _ in range(20)))
    for body, network_stream in bodies:
        assert isinstance(network_stream, AsyncioStream)
        assert body.count('"content":"t') == 50
        assert body.rstrip().endswith("data: [DONE]")


async def test_a_nearer_read_deadline_on_the_same_connection_holds() -> None:
    """The connection's one timer is armed for a long read timeout; a later, shorter one must
    still fire on time."""

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(b"x")
        await reader.read()  # no second answer: wait for the client to leave
        writer.close()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
    try:
        await stream.write(b"a")
        assert await stream.read(10, timeout=30.0) == b"x"
        await stream.write(b"b")
        started = time.monotonic()
        with pytest.raises(httpcore2.ReadTimeout):
            await stream.read(10, timeout=0.2)
        assert time.monotonic() - started < 2
    finally:
        await stream.aclose()
        server.close()
        await server.wait_closed()
