"""`POST /v1/analyse`, stored analyses, and the sweeper, on both databases."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from app.analyses.repository import sweep_interrupted
from app.db import create_engine, create_sessionmaker
from app.models import Analysis, utcnow
from app.schemas import (
    AnalysisResult,
    AnalysisStatus,
    AnalysisSummary,
    Category,
    FindingCounts,
    RiskLevel,
)
from devtools.openai_server import OpenAIServer, Script
from devtools.waiting import eventually
from tests.conftest import Factory, bearer, live_server, openai_settings
from tests.test_stream import ANSWER, ANSWER_TOKENS, DOCUMENT


@pytest.fixture
async def service(database_url: str, upstream: OpenAIServer) -> AsyncIterator[httpx.AsyncClient]:
    settings = openai_settings(database_url, upstream)
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        yield client


def streaming_row(org: str, **fields: object) -> Analysis:
    """A row as a start leaves it, before its final write."""
    values: dict[str, object] = {
        "org": org,
        "sub": "u",
        "document_type": "contract",
        "content_sha256": "0" * 64,
        "content_chars": 1,
        "status": "streaming",
        "provider": "local",
        "model": "m",
    }
    return Analysis(**(values | fields))


async def analyse(client: httpx.AsyncClient, upstream: OpenAIServer, token: str) -> AnalysisResult:
    upstream.script(Script(tokens=ANSWER_TOKENS))
    response = await client.post("/v1/analyse", json=DOCUMENT, headers=bearer(token))
    assert response.status_code == 200, response.text
    return AnalysisResult.model_validate(response.json())


async def test_analyse_answers_one_json_document(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    result = await analyse(service, upstream, token())
    assert [f.model_dump(mode="json") for f in result.findings] == ANSWER["findings"]
    assert result.summary == ANSWER["summary"]
    stored = await service.get(f"/v1/analyses/{result.analysis_id}", headers=bearer(token(org="x")))
    assert stored.status_code == 404


async def test_analyse_maps_upstream_failures(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, cut_after=4))
    response = await service.post("/v1/analyse", json=DOCUMENT, headers=bearer(token()))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"


async def test_stored_analyses_are_scoped_to_the_organisation(
    service: httpx.AsyncClient, upstream: OpenAIServer, token: Factory
) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    ids = [(await analyse(service, upstream, token(org=org))).analysis_id for _ in range(3)]
    mine = bearer(token(org=org))

    detail = await service.get(f"/v1/analyses/{ids[0]}", headers=mine)
    assert detail.status_code == 200
    body = detail.json()
    assert body["status"] == "completed"
    assert body["findings"] == ANSWER["findings"]
    assert body["content"] is None
    assert body["content_chars"] == len(DOCUMENT["content"])

    other = await service.get(f"/v1/analyses/{ids[0]}", headers=bearer(token()))
    missing = await service.get(f"/v1/analyses/{uuid.uuid4()}", headers=mine)
    assert other.status_code == missing.status_code == 404
    assert other.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    assert other.json()["error"]["message"] == missing.json()["error"]["message"]

    first = await service.get("/v1/analyses", params={"limit": 2}, headers=mine)
    assert first.status_code == 200
    page = first.json()
    assert [item["id"] for item in page["items"]] == [str(i) for i in reversed(ids[1:])]
    assert "content" not in page["items"][0]
    assert "findings" not in page["items"][0]
    assert page["items"][0]["finding_counts"] == {
        "by_risk": {"high": 1, "medium": 1, "low": 0},
        "by_category": {"uncapped_liability": 1, "auto_renewal": 1},
    }
    assert isinstance(page["items"][0]["ttft_ms"], int)
    second = await service.get(
        "/v1/analyses", params={"limit": 2, "cursor": page["next_cursor"]}, headers=mine
    )
    assert [item["id"] for item in second.json()["items"]] == [str(ids[0])]
    assert second.json()["next_cursor"] is None

    empty = await service.get("/v1/analyses", headers=bearer(token()))
    assert empty.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"cursor": "not-a-uuid"}],
    ids=["zero", "101", "cursor"],
)
async def test_list_rejects_bad_paging(
    service: httpx.AsyncClient, token: Factory, params: dict[str, object]
) -> None:
    response = await service.get("/v1/analyses", params=params, headers=bearer(token()))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_content_is_kept_only_on_purpose(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    settings = openai_settings(database_url, upstream, store_document_content=True)
    org = f"org-{uuid.uuid4().hex[:8]}"
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        result = await analyse(client, upstream, token(org=org))
        detail = await client.get(
            f"/v1/analyses/{result.analysis_id}", headers=bearer(token(org=org))
        )
    assert detail.json()["content"] == DOCUMENT["content"]


async def test_sweeper_fails_rows_left_streaming(database_url: str) -> None:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    stale, fresh = uuid.uuid4(), uuid.uuid4()
    async with sessionmaker() as session:
        session.add(streaming_row("org-sweep", id=stale, created_at=utcnow() - timedelta(hours=1)))
        session.add(streaming_row("org-sweep", id=fresh, created_at=utcnow()))
        await session.commit()
    assert await sweep_interrupted(sessionmaker, older_than_seconds=340) >= 1
    async with sessionmaker() as session:
        rows = {
            row.id: row
            for row in (
                await session.scalars(select(Analysis).where(Analysis.id.in_([stale, fresh])))
            ).all()
        }
    await engine.dispose()
    assert (rows[stale].status, rows[stale].error_code) == (AnalysisStatus.FAILED, "interrupted")
    assert rows[stale].completed_at is not None
    assert rows[fresh].status == AnalysisStatus.STREAMING


async def test_startup_sweeps_rows_a_crashed_process_left(
    database_url: str, upstream: OpenAIServer
) -> None:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    stale = uuid.uuid4()
    async with sessionmaker() as session:
        session.add(streaming_row("org-crash", id=stale, created_at=utcnow() - timedelta(hours=2)))
        await session.commit()

    async def swept() -> Analysis | None:
        async with sessionmaker() as session:
            row = await session.get(Analysis, stale, populate_existing=True)
        assert row is not None
        return row if row.status != "streaming" else None

    async with live_server(openai_settings(database_url, upstream)):
        row = await eventually(swept, what="the stale row swept")
    await engine.dispose()
    assert (row.status, row.error_code) == ("failed", "interrupted")


def test_counts_read_what_an_older_version_stored() -> None:
    counts = FindingCounts.of(
        [
            {"risk": "high", "category": "a_kind_this_version_lost"},
            {"risk": "low"},
            {"risk": "low", "category": "Choice-of-law"},
        ]
    )
    assert counts.by_risk == {RiskLevel.HIGH: 1, RiskLevel.MEDIUM: 0, RiskLevel.LOW: 2}
    assert counts.by_category == {Category.OTHER: 2, Category.CHOICE_OF_LAW: 1}


async def test_an_unfinished_analysis_has_no_counts(database_url: str) -> None:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    row = streaming_row("org-counts")
    try:
        async with sessionmaker() as session:
            session.add(row)
            await session.commit()
            summary = AnalysisSummary.model_validate(row)
    finally:
        await engine.dispose()
    assert summary.finding_counts is None
    assert summary.ttft_ms is None
