"""No document text in any log line, on the paths where the database refuses a write.

The real service runs as a process (stored content on, debug logs) against the OpenAI-compatible
test server, whose answer quotes the document; a trigger makes the database refuse the start or
the final write with an error that itself quotes the row (as PostgreSQL's own errors can), and on
PostgreSQL the database disappears while a stream is open. The process's whole output is then
searched for the marker.
"""

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from devtools.openai_server import OpenAIServer, Script
from tests.conftest import TEST_SECRET, bearer, claims_for, sign
from tests.service_process import ServiceProcess, openai_env

MARKER = "DOC-MARKER-5e1c0a"
CLAUSE = f"{MARKER} The Supplier's liability shall be unlimited."
DOCUMENT = {"content": f"1. {CLAUSE}\n2. Payment within 30 days. {MARKER}"}
ANSWER = {
    "findings": [
        {"clause": CLAUSE, "risk": "high", "explanation": f"Unlimited {MARKER}", "confidence": 0.9}
    ],
    "summary": f"One high risk: {MARKER}.",
}

PG_REFUSE = """
CREATE OR REPLACE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'refused: % % %', NEW.content, NEW.summary, NEW.findings::text;
END $$;
CREATE TRIGGER refuse_for_test BEFORE {when} ON analyses
  FOR EACH ROW EXECUTE FUNCTION refuse_for_test();
"""
PG_ALLOW = "DROP TRIGGER IF EXISTS refuse_for_test ON analyses"
# SQLite's RAISE takes a literal only; the statement's parameters are what could leak here.
SQLITE_REFUSE = (
    "CREATE TRIGGER refuse_for_test BEFORE {when} ON analyses "
    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
)
SQLITE_ALLOW = "DROP TRIGGER IF EXISTS refuse_for_test"


def pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def execute(database_url: str, sql: str) -> None:
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database
        assert path

        def run() -> None:
            connection = sqlite3.connect(path)
            try:
                connection.execute(sql)
                connection.commit()
            finally:
                connection.close()

        await asyncio.to_thread(run)
        return
    connection = await asyncpg.connect(pg_dsn(database_url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def refusing(database_url: str, when: str) -> AsyncIterator[None]:
    sqlite = database_url.startswith("sqlite")
    await execute(database_url, (SQLITE_REFUSE if sqlite else PG_REFUSE).format(when=when))
    try:
        yield
    finally:
        await execute(database_url, SQLITE_ALLOW if sqlite else PG_ALLOW)


@asynccontextmanager
async def database_gone(database_url: str) -> AsyncIterator[None]:
    """The service's PostgreSQL database disappears (renamed, its connections killed)."""
    url = make_url(database_url)
    name = url.database
    admin = await asyncpg.connect(pg_dsn(str(url.set(database="postgres"))))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{name}_gone"')
        try:
            yield
        finally:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                f"{name}_gone",
            )
            await admin.execute(f'ALTER DATABASE "{name}_gone" RENAME TO "{name}"')
    finally:
        await admin.close()


def headers() -> dict[str, str]:
    return bearer(sign(claims_for()))


async def stream(client: httpx.AsyncClient, on_first_line: Callable[[], Awaitable[None]]) -> str:
    async with client.stream(
        "POST", "/v1/analyse/stream?format=events", json=DOCUMENT, headers=headers()
    ) as response:
        assert response.status_code == 200, await response.aread()
        text = ""
        async for line in response.aiter_lines():
            if not text:
                await on_first_line()
            text += line + "\n"
    return text


async def nothing() -> None:
    return None


@pytest.mark.process
@pytest.mark.slow
async def test_no_document_text_in_any_log_line(
    database_url: str, openai_server: OpenAIServer, tmp_path: Path
) -> None:
    openai_server.reset()
    answer = Script.from_text(json.dumps(ANSWER), delay=0.02)
    env = openai_env(
        database_url,
        openai_server.base_url,
        TEST_SECRET,
        STORE_DOCUMENT_CONTENT="true",
        LOG_LEVEL="debug",
        LOG_FORMAT="text",
        LLM_MAX_RETRIES="0",
    )
    with ServiceProcess(env, tmp_path / "server.log") as service:
        await asyncio.to_thread(service.wait_ready, 120)
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
            # The start is refused by the database: 503, nothing streamed.
            async with refusing(database_url, "INSERT"):
                refused = await client.post("/v1/analyse/stream", json=DOCUMENT, headers=headers())
            assert refused.status_code == 503, refused.text

            # The final write is refused: the client still got the whole answer.
            openai_server.script(answer)
            async with refusing(database_url, "UPDATE"):
                received = await stream(client, nothing)
            assert MARKER in received
            assert "event: result" in received

            # The database goes away while the stream is open.
            if not database_url.startswith("sqlite"):
                openai_server.script(Script.from_text(json.dumps(ANSWER), delay=0.2))
                async with AsyncExitStack() as stack:

                    async def drop() -> None:
                        await stack.enter_async_context(database_gone(database_url))

                    received = await stream(client, drop)
                assert "event: result" in received
                openai_server.script(answer)
                gone = await client.post("/v1/analyse", json=DOCUMENT, headers=headers())
                assert gone.status_code in (200, 503), gone.text
        service.stop()
        log = service.output()

    assert "could not record the analysis" in log
    assert "could not record the outcome" in log
    assert MARKER not in log, [line for line in log.splitlines() if MARKER in line][:3]
