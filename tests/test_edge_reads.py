"""Bounded reads against a real uvicorn process and raw sockets: slow bodies, slow heads, huge heads."""

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET, bearer, claims_for, sign
from tests.service_process import ServiceProcess, clean_env

pytestmark = [pytest.mark.process, pytest.mark.slow]

PROTOCOL = ("--http", "app.edge_http:BoundedHttpToolsProtocol")
BOUND = 1.0  # BODY_READ_TIMEOUT_SECONDS and HEADER_READ_TIMEOUT_SECONDS in this test
SLACK = 4.0  # a loaded machine


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    tmp = tmp_path_factory.mktemp("edge")
    env = clean_env(
        APP_ENV="test",
        FASTAPI_JWT_SECRET=TEST_SECRET,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'edge.db'}",
        BODY_READ_TIMEOUT_SECONDS=str(BOUND),
        HEADER_READ_TIMEOUT_SECONDS=str(BOUND),
    )
    with ServiceProcess(env, tmp / "server.log", PROTOCOL) as process:
        process.wait_ready(120)
        yield process
        process.stop()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def read_until_closed(reader: asyncio.StreamReader, timeout: float) -> bytes:
    received = b""
    async with asyncio.timeout(timeout):
        while chunk := await reader.read(65536):
            received += chunk
    return received


def json_body(response: bytes) -> dict[str, object]:
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower(), response
    parsed: dict[str, object] = json.loads(body)
    return parsed


async def test_a_slow_body_gets_408_and_the_connection_closes(service: ServiceProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    token = sign(claims_for())
    writer.write(
        b"POST /v1/analyse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: 400\r\n\r\n".encode()
        + b'{"content": "The Supplier'
    )
    await writer.drain()
    started = time.monotonic()
    response = await read_until_closed(reader, BOUND + SLACK)
    elapsed = time.monotonic() - started
    writer.close()
    assert response.startswith(b"HTTP/1.1 408 "), response
    assert json_body(response)["error"]["code"] == "request_timeout"  # type: ignore[index]
    assert BOUND * 0.8 <= elapsed < BOUND + SLACK


@pytest.mark.parametrize(
    "head",
    [b"", b"POST /v1/analyse HTTP/1.1\r\nHost: x\r\nAuthoriza", b"GET /v1/me HTTP/1.1\r\n"],
    ids=["nothing", "partial header", "request line only"],
)
async def test_a_slow_or_partial_head_is_closed_within_the_bound(
    service: ServiceProcess, head: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    writer.write(head)
    await writer.drain()
    started = time.monotonic()
    response = await read_until_closed(reader, BOUND + SLACK)
    writer.close()
    assert time.monotonic() - started < BOUND + SLACK
    assert response == b"" or response.startswith(b"HTTP/1.1 408 "), response


async def send_huge_header(port: int, megabytes: int) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    chunk = b"a" * 65536
    sent = 0
    try:
        writer.write(b"GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Padding: ")
        while sent < megabytes * 1024 * 1024:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
        writer.write(b"\r\n\r\n")
        await writer.drain()
    except OSError:  # reset or broken pipe: the server closed while we were still sending
        pass
    try:
        response = await read_until_closed(reader, 10)
    except OSError:
        response = b""
    writer.close()
    return sent, response


async def test_ten_20_mb_headers_are_refused_without_growing_the_worker(
    service: ServiceProcess,
) -> None:
    assert service.process is not None
    before = rss_kib(service.process.pid)
    results = await asyncio.gather(*(send_huge_header(service.port, 20) for _ in range(10)))
    after = rss_kib(service.process.pid)
    for sent, response in results:
        # Refused long before the end: at most the cap plus what the socket buffers took. The
        # 431 is often lost to the reset that closing a socket with unread bytes causes.
        assert sent < 20 * 1024 * 1024, sent
        assert response == b"" or response.startswith(b"HTTP/1.1 431 "), response[:200]
    assert after - before < 32 * 1024, (before, after)  # KiB; it was ~28 MB per connection


async def test_a_whole_head_over_the_cap_is_refused(service: ServiceProcess) -> None:
    token = sign(claims_for())
    head = (
        f"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"X-Padding: {'a' * 40 * 1024}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    writer.write(head)
    await writer.drain()
    try:
        response = await read_until_closed(reader, SLACK)
    except OSError:
        response = b""
    writer.close()
    assert response == b"" or response.startswith(b"HTTP/1.1 431 "), response[:200]
    if response:
        assert json_body(response)["error"]["code"] == "headers_too_large"  # type: ignore[index]


async def test_ordinary_requests_and_keep_alive_still_work(service: ServiceProcess) -> None:
    headers = bearer(sign(claims_for(sub="keeper")))
    body = {"content": "The Supplier's liability shall be unlimited."}
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as client:
        for _ in range(3):  # one connection, kept alive
            assert (await client.get("/v1/me", headers=headers)).status_code == 200
        analysed = await client.post("/v1/analyse", json=body, headers=bearer(sign(claims_for())))
        assert analysed.status_code in (200, 503), analysed.text  # 503: no migrated tables
        big_but_fine = {**headers, "X-Padding": "a" * 16 * 1024}
        assert (await client.get("/v1/me", headers=big_but_fine)).status_code == 200
