"""`/v1/analyse/stream` over a real uvicorn server and the OpenAI-compatible test server."""

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.db import create_engine, create_sessionmaker
from app.models import Analysis
from app.schemas import MAX_CONTENT_CHARS, AnalysisResult, AnalysisStatus, FindingEvent, StartEvent
from devtools.openai_server import OpenAIServer, Script
from devtools.waiting import eventually
from tests.conftest import Factory, bearer, live_server, openai_settings

ANSWER = {
    "findings": [
        {
            "clause": "The Supplier's liability shall be unlimited.",
            "risk": "high",
            "category": "uncapped_liability",
            "explanation": "Uncapped liability; negotiate a cap at 12 months of fees.",
            "confidence": 0.9,
        },
        {
            "clause": "This Agreement renews automatically for successive 3-year terms.",
            "risk": "medium",
            "category": "auto_renewal",
            "explanation": "Auto-renewal with no notice window; ask for 90 days' notice.",
            "confidence": 0.75,
        },
    ],
    "summary": "2 findings: 1 high, 1 medium.",
}
DOCUMENT = {"content": "The Supplier's liability shall be unlimited.", "document_type": "contract"}


def chunked(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


ANSWER_TOKENS = chunked(json.dumps(ANSWER))


def sse_events(body: str) -> list[dict[str, str]]:
    """Parse an event stream into dicts of fields (comments under the key ':')."""
    events = []
    for block in body.split("\n\n"):
        if not block:
            continue
        event: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            event[name or ":"] = value[1:] if value.startswith(" ") else value
        events.append(event)
    return events


async def wait_row(database_url: str, analysis_id: str, timeout: float = 3.0) -> Analysis:
    """The row once it has left `streaming` (the outcome is written after the stream)."""
    engine = create_engine(database_url)

    async def finished() -> Analysis | None:
        async with create_sessionmaker(engine)() as session:
            row = await session.scalar(
                select(Analysis).where(Analysis.id == uuid.UUID(analysis_id))
            )
        assert row is not None
        return row if row.status != AnalysisStatus.STREAMING else None

    try:
        return await eventually(finished, within=timeout, what=f"analysis {analysis_id} finished")
    finally:
        await engine.dispose()


async def rows_for(database_url: str, org: str) -> list[Analysis]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return list((await session.scalars(select(Analysis).where(Analysis.org == org))).all())
    finally:
        await engine.dispose()


@pytest.fixture
async def service(database_url: str, upstream: OpenAIServer) -> AsyncIterator[httpx.AsyncClient]:
    settings = openai_settings(database_url, upstream, sse_heartbeat_seconds=0.3)
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
    ):
        yield client


async def post_stream(
    client: httpx.AsyncClient, token: str, fmt: str | None = None, body: Any = DOCUMENT
) -> httpx.Response:
    params = {"format": fmt} if fmt else {}
    return await client.post("/v1/analyse/stream", params=params, json=body, headers=bearer(token))


async def test_tokens_format_is_the_articles_bytes(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory, database_url: str
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, prompt_tokens=321))
    response = await post_stream(service, token(org="org-bytes"))
    assert response.status_code == 200
    expected = "".join(f"data: {json.dumps({'token': t})}\n\n" for t in ANSWER_TOKENS)
    assert response.content == (expected + "data: [DONE]\n\n").encode()
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-request-id"]
    row = await wait_row(database_url, response.headers["x-analysis-id"])
    assert row.status == AnalysisStatus.COMPLETED
    assert row.findings == ANSWER["findings"]
    assert row.summary == ANSWER["summary"]
    assert row.prompt_tokens == 321
    assert row.completion_tokens == len(ANSWER_TOKENS)
    assert row.provider == "openai"
    assert row.model == "gpt-4o"
    assert row.request_id == response.headers["x-request-id"]
    assert row.ttft_ms is not None
    assert row.duration_ms is not None
    assert row.content is None
    assert row.org == "org-bytes"
    # The prompt fences the document and names the organisation in the system message.
    sent = upstream.requests[-1].body["messages"]
    assert sent[0]["role"] == "system"
    assert "org-bytes" in sent[0]["content"]
    assert DOCUMENT["content"] in sent[1]["content"]
    assert upstream.requests[-1].body["stream_options"] == {"include_usage": True}


@pytest.mark.any_database
async def test_events_format(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS))
    response = await post_stream(service, token(), "events")
    assert response.status_code == 200
    analysis_id = response.headers["x-analysis-id"]
    request_id = response.headers["x-request-id"]
    events = sse_events(response.text)
    result = AnalysisResult.model_validate_json(events[-2]["data"])
    start = StartEvent(
        analysis_id=uuid.UUID(analysis_id), request_id=request_id, provider="openai", model="gpt-4o"
    )
    names = ["start"] + ["token"] * len(ANSWER_TOKENS)
    # Each finding goes out right after the token that closed it.
    closing = [i for i, t in enumerate(ANSWER_TOKENS) if "}" in t][: len(ANSWER["findings"])]
    expected_payloads: list[tuple[str, str]] = [("start", start.model_dump_json())]
    for i, tok in enumerate(ANSWER_TOKENS):
        expected_payloads.append(("token", json.dumps({"token": tok}, separators=(",", ":"))))
        if i in closing:
            index = closing.index(i)
            finding = FindingEvent.model_validate(
                {"index": index, "finding": ANSWER["findings"][index]}
            )
            expected_payloads.append(("finding", finding.model_dump_json()))
    expected_payloads.append(("result", result.model_dump_json()))
    expected = "".join(
        f"id: {n}\nevent: {name}\ndata: {data}\n\n"
        for n, (name, data) in enumerate(expected_payloads)
    )
    assert response.text == expected + "data: [DONE]\n\n"
    assert names == [e["event"] for e in events if e.get("event") in ("start", "token")]
    assert result.analysis_id == uuid.UUID(analysis_id)
    assert [f.model_dump(mode="json") for f in result.findings] == ANSWER["findings"]
    assert result.processed_at.tzinfo is not None


@pytest.mark.any_database
async def test_ai_sdk_format(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS))
    response = await post_stream(service, token(), "ai-sdk")
    assert response.status_code == 200
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    events = sse_events(response.text)
    assert events[-1] == {"data": "[DONE]"}
    parts = [json.loads(e["data"]) for e in events[:-1]]
    allowed = {
        "start": {"type", "messageId"},
        "text-start": {"type", "id"},
        "text-delta": {"type", "id", "delta"},
        "text-end": {"type", "id"},
        "data-finding": {"type", "id", "data"},
        "data-analysis": {"type", "data"},
        "finish": {"type", "messageMetadata"},  # the protocol's key for message metadata
    }
    for part in parts:
        assert set(part) == allowed[part["type"]], part
    types = [p["type"] for p in parts]
    assert types[:2] == ["start", "text-start"]
    assert types[-3:] == ["text-end", "data-analysis", "finish"]
    assert types.count("data-finding") == 2
    assert parts[0]["messageId"] == response.headers["x-analysis-id"]
    report = "".join(p["delta"] for p in parts if p["type"] == "text-delta")
    for finding in ANSWER["findings"]:
        assert f"> {finding['clause']}" in report
        assert finding["explanation"] in report
    assert "High risk" in report
    assert "Medium risk" in report
    assert report.rstrip().endswith(ANSWER["summary"])
    assert "{" not in report  # a readable report, not the raw JSON
    analysis = AnalysisResult.model_validate(parts[-2]["data"])
    assert str(analysis.analysis_id) == response.headers["x-analysis-id"]


@pytest.mark.any_database
async def test_findings_arrive_before_the_stream_ends(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.02))
    seen_finding_while_upstream_streaming = False
    async with service.stream(
        "POST",
        "/v1/analyse/stream",
        params={"format": "events"},
        json=DOCUMENT,
        headers=bearer(token()),
    ) as response:
        async for line in response.aiter_lines():
            if line == "event: finding":
                request = upstream.requests[-1]
                seen_finding_while_upstream_streaming = not request.completed
                break
    assert seen_finding_while_upstream_streaming


@pytest.mark.any_database
@pytest.mark.slow
async def test_heartbeats_while_the_upstream_is_slow(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    # Heartbeat every 0.3 s in this fixture; the model pauses 1.2 s between two tokens.
    tokens = chunked(json.dumps({"findings": [], "summary": "Nothing to report."}), 20)
    upstream.script(Script(tokens=tokens, delay=1.2))
    response = await post_stream(service, token())
    assert response.status_code == 200
    events = sse_events(response.text)
    assert response.text.count(": ping\n") >= 3
    assert ": ping\n\n" not in response.text  # a blank line after it would be an empty event
    assert "".join(
        json.loads(e["data"])["token"] for e in events if "token" in e.get("data", "")
    ) == "".join(tokens)
    assert events[-1] == {"data": "[DONE]"}


@pytest.mark.parametrize(
    ("script", "status", "code"),
    [
        (Script(status=500), 502, "upstream_error"),
        (Script(status=429), 502, "upstream_rate_limited"),
        (Script(status=401), 502, "upstream_auth"),
        (Script(tokens=["not json at all"]), 502, "invalid_model_output"),
        (Script(tokens=['{"findings": [], "summary": 42}']), 502, "invalid_model_output"),
    ],
    ids=["upstream-500", "upstream-429", "upstream-401", "not-json", "wrong-shape"],
)
async def test_failures_before_the_first_token_get_a_real_status(
    service: httpx.AsyncClient,
    upstream: OpenAIServer,
    token: Factory,
    database_url: str,
    script: Script,
    status: int,
    code: str,
) -> None:
    upstream.script(script)
    org = f"org-{uuid.uuid4().hex[:8]}"
    response = await post_stream(service, token(org=org), "events")
    if code == "invalid_model_output":
        # A whole answer in one chunk: the first token is out before validation fails.
        assert response.status_code == 200
        events = sse_events(response.text)
        assert events[-2]["event"] == "error"
        assert json.loads(events[-2]["data"])["code"] == code
        assert events[-1] == {"data": "[DONE]"}
    else:
        assert response.status_code == status
        body = response.json()
        assert body["error"]["code"] == code
        assert body["error"]["request_id"] == response.headers["x-request-id"]
        assert response.headers["content-type"] == "application/json"
    [row] = await rows_for(database_url, org)
    assert row.status == AnalysisStatus.FAILED
    assert row.error_code == code


async def test_first_token_timeout_is_a_504(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    settings = openai_settings(database_url, upstream, first_token_timeout_seconds=0.5)
    upstream.script(Script(tokens=ANSWER_TOKENS, first_token_delay=5))
    org = f"org-{uuid.uuid4().hex[:8]}"
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        started = time.monotonic()
        response = await post_stream(client, token(org=org))
        assert time.monotonic() - started < 3
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert upstream.requests[-1].wait_disconnected(1.0)
    [row] = await rows_for(database_url, org)
    assert (row.status, row.error_code) == (AnalysisStatus.FAILED, "upstream_timeout")


async def test_database_down_is_a_503(upstream: OpenAIServer, token: Factory) -> None:
    settings = openai_settings("postgresql+asyncpg://postgres@127.0.0.1:1/none", upstream)
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await post_stream(client, token())
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "database_unavailable",
        "message": "the database is unavailable",
        "request_id": response.headers["x-request-id"],
        "retryable": True,
    }
    assert upstream.requests == []


@pytest.mark.parametrize(
    "body",
    [
        {"content": ""},
        {"content": "x" * (MAX_CONTENT_CHARS + 1)},
        {"content": "fine", "extra": "field"},
        {"content": "fine", "document_type": ""},
        {"document_type": "contract"},
        [],
    ],
    ids=["empty", "too-long", "unknown-field", "empty-type", "no-content", "not-an-object"],
)
@pytest.mark.any_database
async def test_invalid_bodies_are_422(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory, body: Any
) -> None:
    response = await post_stream(service, token(), body=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"]
    assert upstream.requests == []


@pytest.mark.any_database
async def test_unauthenticated_stream_is_401(
    service: httpx.AsyncClient, upstream: OpenAIServer
) -> None:
    response = await service.post("/v1/analyse/stream", json=DOCUMENT)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert upstream.requests == []


@pytest.mark.parametrize("fmt", ["tokens", "events", "ai-sdk"])
@pytest.mark.parametrize(
    ("script", "code"),
    [
        (Script(tokens=ANSWER_TOKENS, cut_after=5), "upstream_unavailable"),
        (Script(tokens=ANSWER_TOKENS, invalid_json_after=5), "upstream_error"),
        (Script(tokens=ANSWER_TOKENS[:-3]), "invalid_model_output"),
    ],
    ids=["connection-cut", "invalid-chunk", "truncated-answer"],
)
async def test_mid_stream_failure_sends_an_error_then_done(
    service: httpx.AsyncClient,
    upstream: OpenAIServer,
    token: Factory,
    database_url: str,
    fmt: str,
    script: Script,
    code: str,
) -> None:
    upstream.script(script)
    response = await post_stream(service, token(), fmt)
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[-1] == {"data": "[DONE]"}
    if fmt == "tokens":
        error = json.loads(events[-2]["data"])["error"]
    elif fmt == "events":
        assert events[-2]["event"] == "error"
        error = json.loads(events[-2]["data"])
    else:
        part = json.loads(events[-2]["data"])
        assert set(part) == {"type", "errorText"}
        assert part["type"] == "error"
        error = {"code": code, "message": part["errorText"], "retryable": None, "request_id": None}
    if fmt != "ai-sdk":
        assert error["code"] == code
        assert error["request_id"] == response.headers["x-request-id"]
        assert isinstance(error["retryable"], bool)
    assert error["message"]
    row = await wait_row(database_url, response.headers["x-analysis-id"])
    assert (row.status, row.error_code) == (AnalysisStatus.FAILED, code)


@pytest.mark.slow
async def test_deadline_ends_the_stream(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    settings = openai_settings(database_url, upstream, stream_max_seconds=1.0)
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.2))
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await post_stream(client, token())
    events = sse_events(response.text)
    assert json.loads(events[-2]["data"])["error"]["code"] == "deadline_exceeded"
    assert events[-1] == {"data": "[DONE]"}
    assert upstream.requests[-1].wait_disconnected(1.0)
    row = await wait_row(database_url, response.headers["x-analysis-id"])
    assert (row.status, row.error_code) == (AnalysisStatus.FAILED, "deadline_exceeded")


async def test_disconnect_before_the_first_token_cancels_upstream(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory, database_url: str
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, hang=True))
    org = f"org-{uuid.uuid4().hex[:8]}"
    with pytest.raises(httpx.ReadTimeout):
        await service.post(
            "/v1/analyse/stream", json=DOCUMENT, headers=bearer(token(org=org)), timeout=0.5
        )
    left_at = time.monotonic()
    [request] = upstream.requests
    assert await request.wait_disconnected_async(2.0)
    assert request.disconnected_at is not None
    assert request.disconnected_at - left_at < 1.0
    [row] = await eventually(lambda: rows_for(database_url, org), what="the analysis row")
    row = await wait_row(database_url, str(row.id))
    assert (row.status, row.error_code) == (AnalysisStatus.CANCELLED, "client_disconnected")


async def test_disconnect_mid_stream_cancels_upstream_and_keeps_what_was_produced(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory, database_url: str
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=0.05))
    async with service.stream(
        "POST",
        "/v1/analyse/stream",
        params={"format": "events"},
        json=DOCUMENT,
        headers=bearer(token()),
    ) as response:
        analysis_id = response.headers["x-analysis-id"]
        async for line in response.aiter_lines():
            if line == "event: finding":
                break
    left_at = time.monotonic()
    [request] = upstream.requests
    assert await request.wait_disconnected_async(2.0)
    assert request.disconnected_at is not None
    assert request.disconnected_at - left_at < 1.0
    assert not request.completed
    row = await wait_row(database_url, analysis_id)
    assert (row.status, row.error_code) == (AnalysisStatus.CANCELLED, "client_disconnected")
    assert row.findings is not None
    assert row.findings[0] == ANSWER["findings"][0]


@pytest.mark.any_database
async def test_azure_provider_streams_through_the_deployment_path(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    settings = openai_settings(
        database_url,
        upstream,
        llm_provider="azure",
        azure_openai_endpoint=upstream.azure_endpoint,
        azure_openai_api_key="azure-key",
        azure_openai_deployment="gpt-4o-prod",
    )
    upstream.script(Script(tokens=ANSWER_TOKENS))
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await post_stream(client, token(), "events")
    assert response.status_code == 200
    events = sse_events(response.text)
    start = json.loads(events[0]["data"])
    assert (start["provider"], start["model"]) == ("azure", "gpt-4o-prod")
    assert events[-2]["event"] == "result"
    [request] = upstream.requests
    assert request.deployment == "gpt-4o-prod"
    assert request.api_version == "2024-10-01-preview"
    assert request.api_key == "azure-key"


@pytest.mark.any_database
async def test_retries_happen_before_the_first_token_only(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    settings = openai_settings(database_url, upstream, llm_max_retries=2)
    upstream.script(Script(status=503, retry_after=0.01))
    upstream.script(Script(tokens=ANSWER_TOKENS))
    upstream.script(Script(tokens=ANSWER_TOKENS, cut_after=3))
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        retried = await post_stream(client, token())
        assert retried.status_code == 200
        assert sse_events(retried.text)[-1] == {"data": "[DONE]"}
        assert len(upstream.requests) == 2
        cut = await post_stream(client, token())
    # A stream that already sent tokens is never replayed: the client gets an error instead.
    assert json.loads(sse_events(cut.text)[-2]["data"])["error"]["code"] == "upstream_unavailable"
    assert len(upstream.requests) == 3


async def test_a_stalled_upstream_read_times_out(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    # The model client's read timeout bounds a stall mid-stream (a deadline per read, one timer
    # per connection).
    settings = openai_settings(database_url, upstream, llm_timeout_seconds=0.5)
    upstream.script(Script(tokens=ANSWER_TOKENS, hang_after=3))
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        started = time.monotonic()
        response = await post_stream(client, token())
        assert time.monotonic() - started < 5
    events = sse_events(response.text)
    assert json.loads(events[-2]["data"])["error"]["code"] == "upstream_timeout"
    assert events[-1] == {"data": "[DONE]"}
    row = await wait_row(database_url, response.headers["x-analysis-id"])
    assert (row.status, row.error_code) == (AnalysisStatus.FAILED, "upstream_timeout")
