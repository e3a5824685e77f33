"""Streams against hostile or broken parts: a client that stops reading, text the database
refuses, a final write that fails, and a shutdown while a client is stalled."""

import asyncio
import json
import logging
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.db import create_engine
from app.schemas import AnalysisStatus
from devtools.openai_server import OpenAIServer, Script
from tests.conftest import (
    TEST_SECRET,
    Factory,
    claims_for,
    live_server,
    openai_settings,
    sign,
)
from tests.service_process import ServiceProcess, openai_env
from tests.test_stream import ANSWER, DOCUMENT, chunked, post_stream, sse_events, wait_row

BIG_TOKENS = ['{"findings": [{"clause": "', *("x" * 65536 for _ in range(400))]


@asynccontextmanager
async def stalled_client(base_url: str, token: str) -> AsyncIterator[str]:
    """POST a stream, read the response headers, then never read again; yields the analysis id.

    A small receive buffer, so the server's sends block soon after the client stops reading.
    """
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, int(port)))
    body = json.dumps(DOCUMENT).encode()
    request = (
        f"POST /v1/analyse/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    await loop.sock_sendall(sock, request)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await loop.sock_recv(sock, 1)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    analysis_id = next(
        line.split(b":", 1)[1].strip().decode()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"x-analysis-id:")
    )
    try:
        yield analysis_id
    finally:
        sock.close()


@pytest.mark.slow
async def test_a_client_that_stops_reading_is_cancelled_as_stalled(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    settings = openai_settings(
        database_url, upstream, sse_send_timeout_seconds=1.0, sse_heartbeat_seconds=0.3
    )
    upstream.script(Script(tokens=BIG_TOKENS, delay=0.001))
    async with live_server(settings) as base_url, stalled_client(base_url, token()) as analysis_id:
        stalled_at = time.monotonic()
        [request] = upstream.requests
        assert await request.wait_disconnected_async(10.0)
        assert request.disconnected_at is not None
        # The send timeout, plus the time the buffers took to fill.
        assert request.disconnected_at - stalled_at < 8.0
        assert not request.completed
        row = await wait_row(database_url, analysis_id, timeout=5.0)
    assert (row.status, row.error_code) == (AnalysisStatus.CANCELLED, "client_stalled")


NUL_ANSWER = {
    "findings": [
        {**ANSWER["findings"][0], "clause": "The Supplier\u0000s liability is unlimited."}
    ],
    "summary": "One finding\u0000.",
}


async def test_a_nul_in_the_model_answer_is_stored_as_the_client_received_it(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=chunked(json.dumps(NUL_ANSWER))))
    settings = openai_settings(database_url, upstream)
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await post_stream(client, token(), "events")
    events = sse_events(response.text)
    result = json.loads(next(e["data"] for e in events if e.get("event") == "result"))
    assert result["findings"][0]["clause"] == "The Suppliers liability is unlimited."
    assert result["summary"] == "One finding."
    row = await wait_row(database_url, result["analysis_id"])
    assert row.status == AnalysisStatus.COMPLETED
    assert row.findings == result["findings"]
    assert row.summary == result["summary"]


MARKER = "REFUSE-THIS-7f3a"

REFUSING_TRIGGER = {
    "postgresql": [
        "CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.summary LIKE '%{MARKER}%' THEN RAISE EXCEPTION 'refused'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER refuse_marked BEFORE UPDATE ON analyses FOR EACH ROW "
        "EXECUTE FUNCTION refuse_marked()",
    ],
    "sqlite": [
        "CREATE TRIGGER refuse_marked BEFORE UPDATE ON analyses "
        f"WHEN NEW.summary LIKE '%{MARKER}%' BEGIN SELECT RAISE(ABORT, 'refused'); END",
    ],
}
DROP_TRIGGER = {
    "postgresql": [
        "DROP TRIGGER refuse_marked ON analyses",
        "DROP FUNCTION refuse_marked()",
    ],
    "sqlite": ["DROP TRIGGER refuse_marked"],
}


@asynccontextmanager
async def database_refusing_marked_outcomes(database_url: str) -> AsyncIterator[None]:
    """A real database that refuses to store an outcome whose summary carries MARKER."""
    engine = create_engine(database_url)
    kind = engine.dialect.name
    try:
        async with engine.begin() as connection:
            for statement in REFUSING_TRIGGER[kind]:
                await connection.execute(text(statement))
        yield
    finally:
        async with engine.begin() as connection:
            for statement in DROP_TRIGGER[kind]:
                await connection.execute(text(statement))
        await engine.dispose()


async def test_a_final_write_that_fails_still_takes_the_row_out_of_streaming(
    database_url: str, upstream: OpenAIServer, token: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    answer = {"findings": ANSWER["findings"], "summary": f"Summary {MARKER}."}
    upstream.script(Script(tokens=chunked(json.dumps(answer))))
    settings = openai_settings(database_url, upstream)
    org = claims_for()["org"]
    caplog.set_level(logging.INFO)
    async with (
        database_refusing_marked_outcomes(database_url),
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        response = await post_stream(client, token(org=org), "events")
        events = sse_events(response.text)
        assert events[-1] == {"data": "[DONE]"}
        row = await wait_row(database_url, response.headers["x-analysis-id"])
        assert (row.status, row.error_code) == (AnalysisStatus.FAILED, "outcome_not_recorded")
        assert row.summary is None
        assert row.findings is None
        # It no longer counts against the organisation's concurrent streams.
        assert (await post_stream(client, token(org=org))).status_code == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "could not record the outcome" in logged
    assert MARKER not in logged
    assert ANSWER["findings"][0]["clause"] not in logged


@pytest.mark.process
async def test_sigterm_with_a_stalled_client_ends_within_the_drain(
    database_url: str, upstream: OpenAIServer, tmp_path: Path
) -> None:
    drain = 2.0
    env = openai_env(
        database_url, upstream.base_url, TEST_SECRET, SHUTDOWN_DRAIN_SECONDS=str(drain)
    )
    upstream.default_script = Script(tokens=BIG_TOKENS, delay=0.01)
    args = ("--timeout-graceful-shutdown", str(int(drain) + 2))
    with ServiceProcess(env, tmp_path / "server.log", args) as service:
        await asyncio.to_thread(service.wait_ready)
        async with stalled_client(service.base_url, sign(claims_for())) as analysis_id:
            await asyncio.sleep(1.0)
            assert service.process is not None
            signalled = time.monotonic()
            service.process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(service.process.wait, 20)
            exited = time.monotonic() - signalled
        log = service.output()
    assert code in (0, -signal.SIGTERM), log
    assert exited < drain + 2.0 + 1.0, (exited, log)
    row = await wait_row(database_url, analysis_id)
    assert (row.status, row.error_code) == (AnalysisStatus.FAILED, "shutting_down")


@pytest.mark.slow
async def test_a_stalled_reader_of_a_resumable_analysis_is_stopped_by_its_send_timeout(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    # A reconnect is guarded like the POST: a reader that stops reading is let go after the send
    # timeout, and the analysis goes on for the others.
    settings = openai_settings(
        database_url,
        upstream,
        sse_send_timeout_seconds=1.0,
        sse_heartbeat_seconds=0.3,
        resume_grace_seconds=30.0,
    )
    upstream.script(Script(tokens=BIG_TOKENS, delay=0.005))
    user = token()
    headers = {"Authorization": f"Bearer {user}"}
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        async with client.stream(
            "POST",
            "/v1/analyse/stream",
            params={"format": "tokens", "resumable": "true"},
            json=DOCUMENT,
            headers=headers,
        ) as first:
            analysis_id = first.headers["x-analysis-id"]
        host, port = base_url.removeprefix("http://").split(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(sock, (host, int(port)))
            request = (
                f"GET /v1/analyses/{analysis_id}/stream?format=tokens HTTP/1.1\r\n"
                f"Host: {host}\r\nAuthorization: Bearer {user}\r\n\r\n"
            ).encode()
            await loop.sock_sendall(sock, request)
            await asyncio.sleep(4.0)
            received = 0
            async with asyncio.timeout(30):
                while chunk := await loop.sock_recv(sock, 65536):
                    received += len(chunk)
        finally:
            sock.close()
        # This reader is held to the same 1 s send timeout: on a loaded machine, where this
        # process is both server and client, it can itself be cut as stalled, and then does
        # what a client does, reconnect. One whole read to [DONE] shows the log went on.
        for _ in range(3):
            whole = await client.get(
                f"/v1/analyses/{analysis_id}/stream", params={"format": "tokens"}, headers=headers
            )
            assert whole.status_code == 200
            if sse_events(whole.text)[-1] == {"data": "[DONE]"}:
                break
    assert sse_events(whole.text)[-1] == {"data": "[DONE]"}
    # Cut while stalled: far less than the whole stream came through, and the server closed it.
    assert received < len(whole.content) / 2, (received, len(whole.content))
    row = await wait_row(database_url, analysis_id, timeout=30.0)
    # BIG_TOKENS is no valid answer: the analysis ends failed, on its own terms, for everyone.
    assert (row.status, row.error_code) == (AnalysisStatus.FAILED, "invalid_model_output")
