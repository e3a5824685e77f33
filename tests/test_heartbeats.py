"""Heartbeats no client mistakes for a message: with httpx-sse, every format, a slow model.

The keep-alive is a comment line with no blank line after it (app/analyses/sse.py): the SSE
specification ignores comments, and without a blank line no parser dispatches an event. The
JavaScript parsers (@microsoft/fetch-event-source, eventsource-parser) are checked against the
same service in clients/nextjs/test/heartbeats.test.ts.
"""

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse

from devtools.openai_server import OpenAIServer, Script
from tests.conftest import Factory, bearer, live_server, openai_settings
from tests.test_stream import DOCUMENT, chunked

pytestmark = [pytest.mark.any_database, pytest.mark.slow]

TOKENS = chunked(json.dumps({"findings": [], "summary": "Nothing to report."}), 20)


@pytest.fixture
async def slow_service(database_url: str, upstream: OpenAIServer) -> AsyncIterator[str]:
    # Heartbeats every 0.2 s while the model pauses 0.8 s between tokens.
    upstream.script(Script(tokens=TOKENS, delay=0.8))
    settings = openai_settings(database_url, upstream, sse_heartbeat_seconds=0.2)
    async with live_server(settings) as base_url:
        yield base_url


async def received(
    base_url: str, token: str, stream_format: str
) -> tuple[list[ServerSentEvent], str]:
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        aconnect_sse(
            client,
            "POST",
            "/v1/analyse/stream",
            params={"format": stream_format},
            json=DOCUMENT,
            headers=bearer(token),
        ) as source,
    ):
        events = [event async for event in source.aiter_sse()]
    return events, source.response.headers["x-analysis-id"]


@pytest.mark.parametrize("stream_format", ["tokens", "events", "ai-sdk"])
async def test_httpx_sse_sees_no_empty_event(
    slow_service: str, token: Factory, stream_format: str
) -> None:
    events, analysis_id = await received(slow_service, token(), stream_format)
    assert events, "no events at all"
    assert all(event.data for event in events), [e for e in events if not e.data]
    assert events[-1].data == "[DONE]"
    for event in events[:-1]:
        json.loads(event.data)  # every message is JSON: client code can parse each one
    if stream_format == "events":
        assert [e.event for e in events[:1]] == ["start"]
        tokens = [json.loads(e.data)["token"] for e in events if e.event == "token"]
        assert "".join(tokens) == "".join(TOKENS)
        assert json.loads(events[-2].data)["analysis_id"] == analysis_id
    elif stream_format == "tokens":
        assert "".join(json.loads(e.data)["token"] for e in events[:-1]) == "".join(TOKENS)
    else:
        assert json.loads(events[-2].data)["type"] == "finish"


async def test_the_pings_were_there(slow_service: str, token: Factory) -> None:
    """The stream above did carry keep-alives: the raw bytes hold comment lines."""
    async with (
        httpx.AsyncClient(base_url=slow_service, timeout=60) as client,
        client.stream(
            "POST", "/v1/analyse/stream", json=DOCUMENT, headers=bearer(token())
        ) as response,
    ):
        raw = (await response.aread()).decode()
    assert raw.count(": ping\n") >= 5
    assert ": ping\n\n" not in raw
