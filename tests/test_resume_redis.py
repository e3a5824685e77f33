"""Resumable analyses across instances: the event log in the real Redis server (REDIS_URL).

Each test has a key prefix of its own. Two app instances (each its own event log object, so a
reader on the other one reads Redis, never the producer's memory), then two worker processes.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.analyses.replay import Entry
from app.analyses.replay_redis import RedisEventLog
from app.schemas import AnalysisStatus
from devtools.openai_server import OpenAIServer, Script
from devtools.tcp_proxy import TcpRelay
from tests.conftest import TEST_SECRET, Factory, bearer, live_server, redis_url
from tests.service_process import ServiceProcess, openai_env
from tests.test_resume import (
    GRACE,
    LONG_GRACE,
    RANDOM_DROP,
    last_id,
    post_args,
    read_events,
    replay,
    resume_settings,
)
from tests.test_stream import ANSWER_TOKENS, sse_events, wait_row

pytestmark = pytest.mark.redis


@asynccontextmanager
async def two_instances(
    database_url: str, upstream: OpenAIServer, redis: dict[str, Any], **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    settings = resume_settings(database_url, upstream, **redis, **overrides)
    async with (
        live_server(settings) as a_url,
        live_server(settings) as b_url,
        httpx.AsyncClient(base_url=a_url, timeout=10) as a,
        httpx.AsyncClient(base_url=b_url, timeout=10) as b,
    ):
        yield a, b


@pytest.mark.any_database
@pytest.mark.parametrize("drop_after", [1, 6, 15, RANDOM_DROP])
async def test_reconnect_to_the_other_instance(
    database_url: str,
    upstream: OpenAIServer,
    token: Factory,
    redis_settings: dict[str, Any],
    drop_after: int,
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.03))
    user = token()
    async with two_instances(database_url, upstream, redis_settings) as (a, b):
        head, analysis_id = await read_events(
            a, "POST", "/v1/analyse/stream", drop_after, **post_args(user)
        )
        rest = await replay(b, user, analysis_id, last_event_id=last_id(head))
        assert rest.status_code == 200
        assert "event: start" not in rest.text
        whole_b = await replay(b, user, analysis_id)
        whole_a = await replay(a, user, analysis_id)
    assert head + rest.text == whole_b.text == whole_a.text
    events = sse_events(whole_b.text)
    assert [int(e["id"]) for e in events if "id" in e] == list(range(len(events) - 1))
    assert events[-2]["event"] == "result"
    assert len(upstream.requests) == 1
    row = await wait_row(database_url, analysis_id)
    assert row.status == AnalysisStatus.COMPLETED
    # The log expires after the end, and is bounded meanwhile.
    client = Redis.from_url(redis_url())
    try:
        key = f"{redis_settings['redis_key_prefix']}{analysis_id}"
        assert 0 < await client.ttl(key) <= 300
        assert 0 < await client.xlen(key) <= len(events)
    finally:
        await client.aclose()


@pytest.mark.any_database
async def test_a_reader_on_the_other_instance_keeps_the_analysis(
    database_url: str, upstream: OpenAIServer, token: Factory, redis_settings: dict[str, Any]
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=3 * GRACE / len(ANSWER_TOKENS)))
    user = token()
    short = {"resume_grace_seconds": GRACE}
    async with two_instances(database_url, upstream, redis_settings, **short) as (a, b):
        head, analysis_id = await read_events(a, "POST", "/v1/analyse/stream", 2, **post_args(user))
        await asyncio.sleep(GRACE / 2)
        # Attached to B for about twice the grace: A must see it through Redis.
        rest = await replay(b, user, analysis_id, last_event_id=last_id(head))
    assert sse_events(rest.text)[-2]["event"] == "result"
    row = await wait_row(database_url, analysis_id)
    assert row.status == AnalysisStatus.COMPLETED


@pytest.mark.any_database
async def test_no_reconnect_cancels_and_the_other_instance_says_so(
    database_url: str, upstream: OpenAIServer, token: Factory, redis_settings: dict[str, Any]
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.5))
    user = token()
    short = {"resume_grace_seconds": GRACE}
    async with two_instances(database_url, upstream, redis_settings, **short) as (a, b):
        head, analysis_id = await read_events(a, "POST", "/v1/analyse/stream", 2, **post_args(user))
        left_at = time.monotonic()
        [request] = upstream.requests
        assert await request.wait_disconnected_async(GRACE + 3)
        assert request.disconnected_at is not None
        assert request.disconnected_at - left_at < GRACE + 1
        row = await wait_row(database_url, analysis_id)
        assert (row.status, row.error_code) == (AnalysisStatus.CANCELLED, "client_disconnected")
        late = await replay(b, user, analysis_id, last_event_id=last_id(head))
    events = sse_events(late.text)
    assert json.loads(events[-2]["data"])["code"] == "client_disconnected"
    assert events[-1] == {"data": "[DONE]"}


@pytest.mark.any_database
async def test_redis_going_away_mid_stream_is_an_error_event_not_a_hang(
    database_url: str, upstream: OpenAIServer, token: Factory, redis_settings: dict[str, Any]
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.1))
    user = token()
    async with TcpRelay("127.0.0.1", 6379) as relay:
        through = {**redis_settings, "redis_url": f"redis://127.0.0.1:{relay.port}/0"}
        async with (
            two_instances(database_url, upstream, through) as (a, b),
            a.stream("POST", "/v1/analyse/stream", **post_args(user)) as first,
        ):
            analysis_id = first.headers["x-analysis-id"]
            async with b.stream(
                "GET", f"/v1/analyses/{analysis_id}/stream", headers=bearer(user)
            ) as reader:
                assert reader.status_code == 200
                chunks = reader.aiter_text()
                # The reader is following the log through Redis before Redis goes away.
                text = await anext(chunks)
                await relay.stop()
                started = time.monotonic()

                async def rest() -> str:
                    return "".join([chunk async for chunk in chunks])

                text += await asyncio.wait_for(rest(), 10)
                assert time.monotonic() - started < 8
            body = (await first.aread()).decode()
    events = sse_events(text)
    assert events[-2]["event"] == "error"
    error = json.loads(events[-2]["data"])
    assert (error["code"], error["retryable"]) == ("event_log_unavailable", True)
    assert events[-1] == {"data": "[DONE]"}
    # The first client, on the producer's instance, got the whole analysis; the row is written.
    assert sse_events(body)[-2]["event"] == "result"
    row = await wait_row(database_url, analysis_id)
    assert row.status == AnalysisStatus.COMPLETED
    assert len(upstream.requests) == 1


@pytest.mark.process
async def test_two_worker_processes(
    database_url: str,
    upstream: OpenAIServer,
    token: Factory,
    redis_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.05))
    env = openai_env(
        database_url,
        upstream.base_url,
        TEST_SECRET,
        LLM_MAX_RETRIES="0",
        REDIS_URL=redis_settings["redis_url"],
        REDIS_KEY_PREFIX=redis_settings["redis_key_prefix"],
        RESUME_GRACE_SECONDS=str(LONG_GRACE),
    )
    user = token()
    with (
        ServiceProcess(env, tmp_path / "a.log") as first,
        ServiceProcess(env, tmp_path / "b.log") as second,
    ):
        await asyncio.to_thread(first.wait_ready)
        await asyncio.to_thread(second.wait_ready)
        async with (
            httpx.AsyncClient(base_url=first.base_url, timeout=10) as a,
            httpx.AsyncClient(base_url=second.base_url, timeout=10) as b,
        ):
            head, analysis_id = await read_events(
                a, "POST", "/v1/analyse/stream", 5, **post_args(user)
            )
            rest = await replay(b, user, analysis_id, last_event_id=last_id(head))
            whole = await replay(a, user, analysis_id)
    assert head + rest.text == whole.text
    assert sse_events(whole.text)[-2]["event"] == "result"
    assert len(upstream.requests) == 1
    row = await wait_row(database_url, analysis_id)
    assert row.status == AnalysisStatus.COMPLETED


@pytest.mark.any_database
async def test_an_unreadable_log_entry_is_an_error_event_not_a_cut_stream(
    database_url: str, upstream: OpenAIServer, token: Factory, redis_settings: dict[str, Any]
) -> None:
    # Whatever a reader cannot decode (a corrupt or foreign entry under the key), its client
    # gets the retryable error event and `[DONE]`.
    upstream.script(Script(tokens=ANSWER_TOKENS))
    user = token()
    async with two_instances(database_url, upstream, redis_settings) as (a, b):
        done = await a.post("/v1/analyse/stream", **post_args(user))
        analysis_id = done.headers["x-analysis-id"]
        client = Redis.from_url(redis_url())
        try:
            key = f"{redis_settings['redis_key_prefix']}{analysis_id}"
            await client.delete(key)
            await client.xadd(key, {"e": '[[0,"start",{"not":"a start event"}]]'})
            await client.expire(key, 60)
        finally:
            await client.aclose()
        resumed = await replay(b, user, analysis_id)
    assert resumed.status_code == 200
    events = sse_events(resumed.text)
    assert events[-1] == {"data": "[DONE]"}, resumed.text
    assert events[-2]["event"] == "error"
    error = json.loads(events[-2]["data"])
    assert (error["code"], error["retryable"]) == ("event_log_unavailable", True)
    assert error["request_id"] == resumed.headers["x-request-id"]


async def test_the_end_marker_follows_a_batch_still_being_written(
    redis_settings: dict[str, Any],
) -> None:
    """`end()` while a batch is on its way to Redis: a reader elsewhere still gets the end."""
    prefix = redis_settings["redis_key_prefix"]
    producer_client, reader_client = Redis.from_url(redis_url()), Redis.from_url(redis_url())
    producer = RedisEventLog(producer_client, prefix=prefix, ttl=60, run_ttl=60)
    elsewhere = RedisEventLog(reader_client, prefix=prefix, ttl=60, run_ttl=60)
    try:
        writer = producer.writer("race")
        writer.add(Entry(0, "token", "first"))
        # The first batch written, the writer back to waiting for the next entry.
        async with asyncio.timeout(5):
            while await producer_client.xlen(producer.key("race")) < 1:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        writer.add(Entry(1, "token", "second"))
        # One turn of the loop: the writer sends the batch and waits for Redis's reply.
        await asyncio.sleep(0)
        await writer.end()
        entries = await elsewhere.follow("race")
        assert entries is not None
        async with asyncio.timeout(5):
            read = [entry async for entry in entries]
        assert [(e.id, e.value) for e in read] == [(0, "first"), (1, "second")]
    finally:
        await producer_client.delete(producer.key("race"))
        await producer.aclose()
        await elsewhere.aclose()
        await producer_client.aclose()
        await reader_client.aclose()
