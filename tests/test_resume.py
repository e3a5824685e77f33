"""Resumable analyses: `?resumable=true`, the event log, and `GET /v1/analyses/{id}/stream`.

Real uvicorn servers, the OpenAI-compatible test server, and (for the shared log) the Redis
server; a client drops mid-stream and reconnects, to the same instance or another one.
"""

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.analyses.replay import Entry, MemoryEventLog
from app.schemas import AnalysisStatus
from devtools.openai_server import OpenAIServer, Script
from devtools.processes import ROOT, clean_env
from tests.conftest import Factory, bearer, live_server, openai_settings
from tests.test_stream import ANSWER, ANSWER_TOKENS, DOCUMENT, sse_events, wait_row

# The grace of the tests about the grace; the others have a long one, so a reconnect slowed down
# by a loaded machine still lands within it.
GRACE = 2.0
LONG_GRACE = 15.0


def resume_settings(database_url: str, upstream: OpenAIServer, **overrides: Any) -> Any:
    values: dict[str, Any] = {"resume_grace_seconds": LONG_GRACE, "sse_heartbeat_seconds": 60.0}
    values.update(overrides)
    return openai_settings(database_url, upstream, **values)


@pytest.fixture
async def service(database_url: str, upstream: OpenAIServer) -> AsyncIterator[httpx.AsyncClient]:
    settings = resume_settings(database_url, upstream)
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
    ):
        yield client


@pytest.fixture
async def short_grace(
    database_url: str, upstream: OpenAIServer
) -> AsyncIterator[httpx.AsyncClient]:
    settings = resume_settings(database_url, upstream, resume_grace_seconds=GRACE)
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
    ):
        yield client


async def read_events(
    client: httpx.AsyncClient, method: str, url: str, count: int, **kwargs: Any
) -> tuple[str, str]:
    """The first `count` whole events of a stream (the connection is then dropped), and the id."""
    text = ""
    async with client.stream(method, url, **kwargs) as response:
        assert response.status_code == 200, await response.aread()
        analysis_id = response.headers["x-analysis-id"]
        async for chunk in response.aiter_text():
            text += chunk
            if text.count("\n\n") >= count:
                break
    end = 0
    for _ in range(count):
        end = text.index("\n\n", end) + 2
    return text[:end], analysis_id


def last_id(text: str) -> str:
    return [e["id"] for e in sse_events(text) if "id" in e][-1]


async def replay(
    client: httpx.AsyncClient, token: str, analysis_id: str, **params: Any
) -> httpx.Response:
    headers = bearer(token)
    if "last_event_id" in params:
        headers["Last-Event-ID"] = params.pop("last_event_id")
    return await client.get(f"/v1/analyses/{analysis_id}/stream", params=params, headers=headers)


def post_args(token: str, fmt: str = "events") -> dict[str, Any]:
    return {
        "params": {"format": fmt, "resumable": "true"},
        "json": DOCUMENT,
        "headers": bearer(token),
    }


@pytest.mark.any_database
async def test_uninterrupted_resumable_stream_is_the_plain_one(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS))
    upstream.script(Script(tokens=ANSWER_TOKENS))
    user = token()
    plain = await service.post(
        "/v1/analyse/stream", params={"format": "events"}, json=DOCUMENT, headers=bearer(user)
    )
    resumable = await service.post("/v1/analyse/stream", **post_args(user))
    assert resumable.status_code == 200

    def masked(response: httpx.Response) -> list[tuple[str, str, dict[str, Any] | str]]:
        events = sse_events(response.text)
        out = []
        for event in events:
            data = event["data"]
            payload: dict[str, Any] | str = data if data == "[DONE]" else json.loads(data)
            if isinstance(payload, dict):
                for key in ("analysis_id", "request_id", "processed_at"):
                    payload.pop(key, None)
            out.append((event.get("id", ""), event.get("event", ""), payload))
        return out

    assert masked(resumable) == masked(plain)
    # The whole log, replayed after the end: the same bytes.
    again = await replay(service, user, resumable.headers["x-analysis-id"])
    assert again.status_code == 200
    assert again.content == resumable.content


# start, a token event per model chunk, two findings, the result: every event before `[DONE]`.
EVENTS = 1 + len(ANSWER_TOKENS) + len(ANSWER["findings"]) + 1


# A drop at a random point as well as at the edges; the seed is in the test id, so a failing
# point can be replayed with RESUME_DROP_SEED.
DROP_SEED = int(os.environ.get("RESUME_DROP_SEED") or time.time_ns() % 1_000_000)
RANDOM_DROP = pytest.param(
    random.Random(DROP_SEED).randint(2, EVENTS - 2), id=f"random-seed-{DROP_SEED}"
)


@pytest.mark.parametrize(
    "drop_after",
    [
        pytest.param(1, marks=pytest.mark.slow),
        pytest.param(4, marks=pytest.mark.slow),
        pytest.param(13, marks=pytest.mark.slow),
        pytest.param(EVENTS - 1, marks=pytest.mark.slow),
        pytest.param(EVENTS, marks=pytest.mark.slow),
        RANDOM_DROP,
    ],
)
async def test_drop_and_reconnect_gets_exactly_the_missed_events(
    service: httpx.AsyncClient,
    upstream: OpenAIServer,
    token: Factory,
    database_url: str,
    drop_after: int,
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.03))
    user = token()
    head, analysis_id = await read_events(
        service, "POST", "/v1/analyse/stream", drop_after, **post_args(user)
    )
    # The client is gone; the analysis is not.
    await asyncio.sleep(0.2)
    rest = await replay(service, user, analysis_id, last_event_id=last_id(head))
    assert rest.status_code == 200
    assert rest.headers["content-type"].startswith("text/event-stream")
    assert "event: start" not in rest.text
    whole = await replay(service, user, analysis_id)
    assert head + rest.text == whole.text
    events = sse_events(whole.text)
    assert [int(e["id"]) for e in events if "id" in e] == list(range(len(events) - 1))
    assert events[-2]["event"] == "result"
    assert [f["clause"] for f in json.loads(events[-2]["data"])["findings"]] == [
        f["clause"] for f in ANSWER["findings"]
    ]
    assert len(upstream.requests) == 1
    row = await wait_row(database_url, analysis_id)
    assert row.status == AnalysisStatus.COMPLETED


@pytest.mark.any_database
@pytest.mark.slow
async def test_after_query_parameter_and_two_readers(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.03))
    user = token()
    async with service.stream("POST", "/v1/analyse/stream", **post_args(user)) as first:
        analysis_id = first.headers["x-analysis-id"]
        second, third = await asyncio.gather(
            replay(service, user, analysis_id),
            replay(service, user, analysis_id, after="2"),
        )
        body = (await first.aread()).decode()
    assert second.text == body
    assert third.text == body[body.index("id: 3\n") :]
    assert len(upstream.requests) == 1


@pytest.mark.any_database
@pytest.mark.slow
async def test_ai_sdk_resume_replays_the_message_stream(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.02))
    user = token()
    head, analysis_id = await read_events(
        service, "POST", "/v1/analyse/stream", 2, **post_args(user, "ai-sdk")
    )
    resumed = await replay(service, user, analysis_id, format="ai-sdk")
    assert resumed.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert resumed.text.startswith(head)
    parts = [json.loads(e["data"]) for e in sse_events(resumed.text)[:-1]]
    assert parts[0] == {"type": "start", "messageId": analysis_id}
    assert [p["type"] for p in parts[-3:]] == ["text-end", "data-analysis", "finish"]
    # The events format of the same log, from the same analysis.
    events = await replay(service, user, analysis_id)
    assert sse_events(events.text)[-2]["event"] == "result"
    assert len(upstream.requests) == 1


@pytest.mark.slow
async def test_no_reconnect_cancels_within_the_grace(
    short_grace: httpx.AsyncClient, upstream: OpenAIServer, token: Factory, database_url: str
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.5))
    user = token()
    head, analysis_id = await read_events(
        short_grace, "POST", "/v1/analyse/stream", 2, **post_args(user)
    )
    left_at = time.monotonic()
    [request] = upstream.requests
    assert await request.wait_disconnected_async(GRACE + 3)
    assert request.disconnected_at is not None
    assert GRACE - 0.3 <= request.disconnected_at - left_at < GRACE + 1
    assert not request.completed
    row = await wait_row(database_url, analysis_id)
    assert (row.status, row.error_code) == (AnalysisStatus.CANCELLED, "client_disconnected")
    late = await replay(short_grace, user, analysis_id, last_event_id=last_id(head))
    events = sse_events(late.text)
    assert events[-2]["event"] == "error"
    assert json.loads(events[-2]["data"])["code"] == "client_disconnected"
    assert events[-1] == {"data": "[DONE]"}


@pytest.mark.slow
async def test_a_reader_within_the_grace_keeps_the_analysis(
    short_grace: httpx.AsyncClient, upstream: OpenAIServer, token: Factory, database_url: str
) -> None:
    tokens = ANSWER_TOKENS
    upstream.script(Script(tokens=tokens, delay=3 * GRACE / len(tokens)))
    user = token()
    head, analysis_id = await read_events(
        short_grace, "POST", "/v1/analyse/stream", 2, **post_args(user)
    )
    await asyncio.sleep(GRACE / 2)
    rest = await replay(short_grace, user, analysis_id, last_event_id=last_id(head))
    assert sse_events(rest.text)[-2]["event"] == "result"
    row = await wait_row(database_url, analysis_id)
    assert row.status == AnalysisStatus.COMPLETED


@pytest.mark.any_database
@pytest.mark.slow
async def test_stored_outcome_once_the_log_expired(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    settings = resume_settings(database_url, upstream, resume_log_ttl_seconds=0.2)
    upstream.script(Script(tokens=ANSWER_TOKENS))
    user = token()
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        done = await client.post("/v1/analyse/stream", **post_args(user))
        analysis_id = done.headers["x-analysis-id"]
        await wait_row(database_url, analysis_id)
        await asyncio.sleep(0.3)
        whole = await replay(client, user, analysis_id)
        tail = await replay(client, user, analysis_id, last_event_id="7")
    events = sse_events(whole.text)
    assert [e.get("event") for e in events] == ["start", "finding", "finding", "result", None]
    result = json.loads(events[-2]["data"])
    assert result["findings"] == ANSWER["findings"]
    assert result["summary"] == ANSWER["summary"]
    assert result["analysis_id"] == analysis_id
    [outcome, end] = sse_events(tail.text)
    assert (outcome["id"], outcome["event"]) == ("8", "result")
    assert json.loads(outcome["data"]) == result
    assert end == {"data": "[DONE]"}


@pytest.mark.any_database
async def test_reconnect_refusals(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS))
    user = token(org="org-resume-a")
    done = await service.post("/v1/analyse/stream", **post_args(user))
    analysis_id = done.headers["x-analysis-id"]
    other = await replay(service, token(org="org-resume-b"), analysis_id)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"
    missing = await replay(service, user, str(uuid.uuid4()))
    assert missing.status_code == 404
    anonymous = await service.get(f"/v1/analyses/{analysis_id}/stream")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    superscript = await service.get(
        f"/v1/analyses/{analysis_id}/stream",
        headers={**bearer(user), "Last-Event-ID": "²".encode()},
    )
    assert superscript.status_code == 422
    for bad in ("seven", "-1", "9" * 5000):
        bad_id = await replay(service, user, analysis_id, last_event_id=bad)
        assert bad_id.status_code == 422, bad
        assert "Last-Event-ID" in bad_id.json()["error"]["message"]
    bad_after = await replay(service, user, analysis_id, after="-1")
    assert bad_after.status_code == 422
    assert len(upstream.requests) == 1


@pytest.mark.any_database
async def test_a_running_plain_analysis_is_not_resumable(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.1))
    user = token()
    async with service.stream(
        "POST",
        "/v1/analyse/stream",
        params={"format": "events"},
        json=DOCUMENT,
        headers=bearer(user),
    ) as response:
        analysis_id = response.headers["x-analysis-id"]
        refused = await replay(service, user, analysis_id)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_resumable"


@pytest.mark.slow
async def test_shutdown_ends_a_resumable_analysis_nobody_reads(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    settings = resume_settings(database_url, upstream, resume_grace_seconds=30.0)
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.5))
    user = token()
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        _, analysis_id = await read_events(
            client, "POST", "/v1/analyse/stream", 2, **post_args(user)
        )
    # The server stopped well within the grace: the analysis ended on its terms, not silently.
    [request] = upstream.requests
    assert await request.wait_disconnected_async(2.0)
    row = await wait_row(database_url, analysis_id)
    assert (row.status, row.error_code) == (AnalysisStatus.FAILED, "shutting_down")


@pytest.mark.any_database
def test_redis_is_not_imported_without_redis_url() -> None:
    code = (
        "import sys; from app.application import create_app; create_app(); "
        "sys.exit('redis' in sys.modules)"
    )
    env = clean_env(APP_ENV="test")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)


@pytest.mark.any_database
@pytest.mark.slow
async def test_the_chat_route_is_resumable_too(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory, database_url: str
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.05))
    user = token()
    text = {"type": "text", "text": DOCUMENT["content"]}
    body = {"id": "chat-1", "messages": [{"id": "m1", "role": "user", "parts": [text]}]}
    head, analysis_id = await read_events(
        service,
        "POST",
        "/v1/analyse/chat",
        2,
        params={"resumable": "true"},
        json=body,
        headers=bearer(user),
    )
    await asyncio.sleep(0.3)
    resumed = await replay(service, user, analysis_id, format="ai-sdk")
    assert resumed.text.startswith(head)
    parts = [json.loads(e["data"]) for e in sse_events(resumed.text)[:-1]]
    assert [p["type"] for p in parts[-3:]] == ["text-end", "data-analysis", "finish"]
    assert len(upstream.requests) == 1
    row = await wait_row(database_url, analysis_id)
    assert row.status == AnalysisStatus.COMPLETED


@pytest.mark.any_database
@pytest.mark.slow
async def test_the_tokens_format_resumes_from_the_start(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.03))
    user = token()
    head, analysis_id = await read_events(
        service, "POST", "/v1/analyse/stream", 3, **post_args(user, "tokens")
    )
    await asyncio.sleep(0.2)
    again = await replay(service, user, analysis_id, format="tokens")
    expected = "".join(f"data: {json.dumps({'token': t})}\n\n" for t in ANSWER_TOKENS)
    assert again.text == expected + "data: [DONE]\n\n"
    assert again.text.startswith(head)
    assert len(upstream.requests) == 1


@pytest.mark.slow
async def test_an_ended_log_expires_in_an_idle_process() -> None:
    log = MemoryEventLog(ttl=0.2)
    writer = log.writer("a1")
    writer.add(Entry(0, "token", "x"))
    await writer.end()
    assert "a1" in log.live
    # Nothing else happens in the process: the log still goes once its time is up.
    await asyncio.sleep(0.5)
    assert log.live == {}
