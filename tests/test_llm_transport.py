"""The model client's HTTP client on asyncio and uvloop, plain and TLS, with each transport.

"stock" is httpx2's own transport (LLM_FAST_PATH=false, or a proxy applies); "network" is
httpcore2's pool on app/llm/network.py's sockets. Both against the real test server.
"""

import asyncio
import ssl
import subprocess
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import uvloop

from app.config import Settings
from app.llm import build_chat_model
from app.llm.network import AsyncioStream
from app.llm.transport import model_http_client
from app.prompt import build_messages
from devtools.connect_proxy import ConnectProxy
from devtools.openai_server import OpenAIServer, Script

BODY = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
LOOPS: dict[str, Callable[[Coroutine[Any, Any, None]], None]] = {
    "asyncio": asyncio.run,
    "uvloop": uvloop.run,
}


PATHS = ("stock", "network")


def client(
    path: str, verify: ssl.SSLContext | bool = True, timeout: float = 5.0, url: str = ""
) -> httpx2.AsyncClient:
    return model_http_client(timeout, verify=verify, fast=path == "network", url=url)


async def stream(http: httpx2.AsyncClient, url: str, path: str = "") -> str:
    async with http.stream("POST", f"{url}/chat/completions", json=BODY) as response:
        assert response.status_code == 200
        if path:
            on_network = isinstance(response.extensions["network_stream"], AsyncioStream)
            assert on_network == (path == "network")
        return "".join([text async for text in response.aiter_text()])


@pytest.fixture(scope="module")
def server() -> Any:
    with OpenAIServer() as openai:
        yield openai


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("loop", list(LOOPS))
def test_streams_reuse_one_connection(server: OpenAIServer, loop: str, path: str) -> None:
    server.reset()
    server.default_script = Script(tokens=["alpha", "beta", "gamma"])

    async def scenario() -> None:
        async with client(path) as http:
            bodies = [await stream(http, server.base_url, path) for _ in range(3)]
        for body in bodies:
            assert '"content":"alpha"' in body
            assert body.rstrip().endswith("data: [DONE]")

    LOOPS[loop](scenario())
    assert len({request.connection_id for request in server.requests}) == 1


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("loop", list(LOOPS))
def test_a_stalled_read_times_out(server: OpenAIServer, loop: str, path: str) -> None:
    server.reset()
    server.default_script = Script(tokens=["alpha", "beta", "gamma"], hang_after=1)

    async def scenario() -> None:
        async with client(path, timeout=0.3) as http:
            started = time.monotonic()
            with pytest.raises(httpx2.ReadTimeout):
                await stream(http, server.base_url)
            assert time.monotonic() - started < 2

    LOOPS[loop](scenario())
    assert server.requests[-1].wait_disconnected(2.0)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("loop", list(LOOPS))
def test_a_stream_cut_mid_body_is_a_protocol_error(
    server: OpenAIServer, loop: str, path: str
) -> None:
    server.reset()
    server.default_script = Script(tokens=["alpha", "beta", "gamma"], cut_after=1)

    async def scenario() -> None:
        async with client(path) as http:
            with pytest.raises(httpx2.RemoteProtocolError):
                await stream(http, server.base_url)
            # The pool drops the cut connection: the next request gets a new one and succeeds.
            server.default_script = Script(tokens=["alpha"])
            assert '"content":"alpha"' in await stream(http, server.base_url, path)

    LOOPS[loop](scenario())
    assert len({request.connection_id for request in server.requests}) == 2


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("loop", list(LOOPS))
def test_connection_refused_is_a_connect_error(loop: str, path: str) -> None:
    async def scenario() -> None:
        async with client(path) as http:
            with pytest.raises(httpx2.ConnectError):
                await stream(http, "http://127.0.0.1:1/v1")

    LOOPS[loop](scenario())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def tls_front(upstream_port: int, cert: Path, key: Path) -> asyncio.Server:
    """A TLS terminator in front of the test server, as a TLS-speaking upstream."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("loop", list(LOOPS))
def test_tls(server: OpenAIServer, certificate: tuple[Path, Path], loop: str, path: str) -> None:
    server.reset()
    server.default_script = Script(tokens=["alpha", "beta", "gamma"])
    cert, key = certificate
    upstream_port = int(server.base_url.split(":")[-1].split("/")[0])

    async def scenario() -> None:
        front = await tls_front(upstream_port, cert, key)
        port = front.sockets[0].getsockname()[1]
        trusted = ssl.create_default_context(cafile=str(cert))
        try:
            async with client(path, verify=trusted) as http:
                url = f"https://localhost:{port}/v1"
                bodies = [await stream(http, url, path) for _ in range(2)]
            for body in bodies:
                assert '"content":"gamma"' in body
            async with client(path) as untrusting:
                with pytest.raises(httpx2.ConnectError):
                    await stream(untrusting, f"https://localhost:{port}/v1")
        finally:
            front.close()

    LOOPS[loop](scenario())
    assert len(server.requests) == 2


PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


async def ask(base_url: str) -> str:
    """One streamed answer from the model client the service builds for `base_url`."""
    settings = Settings(
        llm_provider="openai", openai_api_key="x", openai_base_url=base_url, llm_max_retries=0
    )
    chat = build_chat_model(settings)
    try:
        messages = build_messages("Clause 1. Payment within 30 days.", "contract", "org")
        return "".join([str(chunk.content) async for chunk in chat.model.astream(messages)])
    finally:
        await chat.aclose()


async def test_https_proxy_tunnels_model_calls(
    server: OpenAIServer, certificate: tuple[Path, Path], no_proxy_env: pytest.MonkeyPatch
) -> None:
    server.reset()
    server.default_script = Script(tokens=["through ", "the ", "proxy"])
    cert, key = certificate
    front = await tls_front(int(server.base_url.split(":")[-1].split("/")[0]), cert, key)
    port = front.sockets[0].getsockname()[1]
    try:
        async with ConnectProxy() as proxy:
            no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
            no_proxy_env.setenv("SSL_CERT_FILE", str(cert))
            answer = await ask(f"https://localhost:{port}/v1")
    finally:
        front.close()
    assert answer == "through the proxy"
    assert proxy.seen == [f"CONNECT localhost:{port}"]


async def test_the_synchronous_client_shares_the_tls_context_and_is_closed(
    server: OpenAIServer, certificate: tuple[Path, Path], no_proxy_env: pytest.MonkeyPatch
) -> None:
    # LangChain's `invoke` sends on the synchronous client the service builds beside the async
    # one, with the same TLS context (SSL_CERT_FILE counts); closing the model closes both.
    server.reset()
    server.default_script = Script(tokens=["in ", "sync"])
    cert, key = certificate
    front = await tls_front(int(server.base_url.split(":")[-1].split("/")[0]), cert, key)
    port = front.sockets[0].getsockname()[1]
    no_proxy_env.setenv("SSL_CERT_FILE", str(cert))
    loads: list[str | None] = []
    create = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        loads.append(kwargs.get("cafile"))
        return create(*args, **kwargs)

    no_proxy_env.setattr(ssl, "create_default_context", counted)
    settings = Settings(
        llm_provider="openai",
        openai_api_key="x",
        openai_base_url=f"https://localhost:{port}/v1",
        llm_max_retries=0,
    )
    chat = build_chat_model(settings)
    # One trust store loaded for both clients (each client built its own before).
    assert loads == [str(cert)]
    try:
        messages = build_messages("Clause 1. Payment within 30 days.", "contract", "org")
        answer = await asyncio.to_thread(chat.model.invoke, messages)
    finally:
        await chat.aclose()
        front.close()
    assert answer.content == "in sync"
    assert chat.sync_http_client is not None
    assert chat.sync_http_client.is_closed


async def test_http_proxy_and_no_proxy(
    server: OpenAIServer, no_proxy_env: pytest.MonkeyPatch
) -> None:
    server.reset()
    server.default_script = Script(tokens=["plain"])
    async with ConnectProxy() as proxy:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        assert await ask(server.base_url) == "plain"
        assert proxy.seen == [f"POST {server.base_url}/chat/completions"]
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        assert await ask(server.base_url) == "plain"
    assert len(proxy.seen) == 1
    assert len(server.requests) == 2


async def test_ssl_cert_file_is_honoured_without_a_proxy(
    server: OpenAIServer, certificate: tuple[Path, Path], no_proxy_env: pytest.MonkeyPatch
) -> None:
    """No proxy applies, so the service's client is the network path: it trusts what the stock
    client trusts (SSL_CERT_FILE), and checks the name against the certificate."""
    server.reset()
    server.default_script = Script(tokens=["trusted"])
    cert, key = certificate
    front = await tls_front(int(server.base_url.split(":")[-1].split("/")[0]), cert, key)
    port = front.sockets[0].getsockname()[1]
    try:
        no_proxy_env.setenv("SSL_CERT_FILE", str(cert))
        assert await ask(f"https://localhost:{port}/v1") == "trusted"
        with pytest.raises(openai.APIConnectionError):
            # The certificate names localhost, not 127.0.0.1.
            await ask(f"https://127.0.0.1:{port}/v1")
    finally:
        front.close()
