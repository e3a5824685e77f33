"""Documents of real length: the limits, and sectioned analysis on the model path."""

import itertools
import json
import re
import time
from pathlib import Path

import httpx
import pytest

from app.analyses.sections import split_sections
from app.schemas import MAX_CONTENT_CHARS, AnalysisStatus
from devtools.openai_server import OpenAIServer, Script
from devtools.waiting import eventually
from tests.conftest import Factory, bearer, live_server, make_settings, openai_settings
from tests.test_stream import chunked, sse_events, wait_row

ROOT = Path(__file__).resolve().parent.parent
SECTION = 20_000


def longest_terms_of_service() -> str:
    """The longest real Terms of Service of the CLAUDETTE development set (127 109 chars)."""
    data = json.loads((ROOT / "data/claudette/claudette_en_dev.json").read_text())
    text: str = max((d["text"] for d in data["documents"]), key=len)
    return text


SENTENCE = re.compile(r"[A-Z][^.!?\n]{40,200}[.!?]")


def section_answer(text: str, index: int) -> tuple[str, dict[str, object]]:
    """The answer a model might give for one section: one sentence of it, quoted."""
    match = SENTENCE.search(text)
    assert match, index
    clause = match.group(0)
    return clause, {
        "findings": [
            {
                "clause": clause,
                "risk": "medium",
                "explanation": f"Section {index + 1}: worth a look.",
                "confidence": 0.6,
            }
        ],
        "summary": f"Section {index + 1} has one finding.",
    }


def script_sections(upstream: OpenAIServer, document: str, **script: object) -> list[str]:
    """Queue one answer per section, then the summary; return the clauses in document order
    (of their first occurrence: some sentences of a real document occur twice)."""
    spans = split_sections(document, SECTION)
    clauses = []
    for index, (start, end) in enumerate(spans):
        clause, answer = section_answer(document[start:end], index)
        clauses.append(clause)
        upstream.script(Script(tokens=chunked(json.dumps(answer), 40), prompt_tokens=100, **script))  # type: ignore[arg-type]
    upstream.script(Script(tokens=["The whole ", "document is risky."], prompt_tokens=7))
    return sorted(clauses, key=document.find)


def test_sections_cover_the_text_and_never_cut_a_sentence() -> None:
    document = longest_terms_of_service()
    spans = split_sections(document, SECTION)
    assert len(spans) >= 6
    assert spans[0][0] == 0
    assert spans[-1][1] == len(document)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end == start
    for start, end in spans:
        assert 0 < end - start <= SECTION
    for _, end in spans[:-1]:
        # Each cut is at a line or sentence end: never between two words of a sentence.
        before = document[:end].rstrip()
        assert before[-1] in ".!?;:)\"'" or document[end - 1] == "\n", document[end - 40 : end + 40]


def test_a_single_over_long_sentence_is_cut_between_words() -> None:
    sentence = " ".join(f"word{i}" for i in range(10_000)) + "."
    spans = split_sections(sentence, 1_000)
    assert all(end - start <= 1_000 for start, end in spans)
    assert "".join(sentence[s:e] for s, e in spans) == sentence
    for _, end in spans[:-1]:
        assert sentence[end - 1] == " "


def test_headings_and_blank_lines_are_preferred_to_sentence_ends() -> None:
    clause = "The Customer shall pay the fees. " * 20
    document = f"1. Fees\n{clause}\n\n2. Term\n{clause}\n\n3. Liability\n{clause}"
    spans = split_sections(document, 1_000)
    assert [document[s:e].split("\n")[0] for s, e in spans] == [
        "1. Fees",
        "2. Term",
        "3. Liability",
    ]


@pytest.mark.parametrize("fmt", ["tokens", "events", "ai-sdk"])
async def test_a_long_terms_of_service_streams_in_sections(
    database_url: str, upstream: OpenAIServer, token: Factory, fmt: str
) -> None:
    document = longest_terms_of_service()
    clauses = script_sections(upstream, document)
    settings = openai_settings(database_url, upstream, llm_section_chars=SECTION)
    body = {"content": document, "document_type": "terms_of_service"}
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        response = await client.post(
            "/v1/analyse/stream", params={"format": fmt}, json=body, headers=bearer(token())
        )
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[-1] == {"data": "[DONE]"}
    sections = len(split_sections(document, SECTION))
    section_requests = upstream.requests[:-1]
    assert len(section_requests) == sections >= 6
    for request in section_requests:
        fenced = request.body["messages"][1]["content"]
        assert len(fenced.split("\n", 1)[1].rsplit("\n", 1)[0]) <= SECTION
    if fmt == "tokens":
        text = "".join(json.loads(e["data"])["token"] for e in events[:-1])
        result = json.loads(text)
        assert "processed_at" in result
        # The tokens carry the findings as they arrived; the stored result is in document order.
        result["findings"].sort(key=lambda finding: document.find(finding["clause"]))
    elif fmt == "events":
        result = json.loads(next(e["data"] for e in events if e.get("event") == "result"))
        progress = [json.loads(e["data"]) for e in events if e.get("event") == "section"]
        assert {(p["index"], p["state"]) for p in progress} == {
            (i, state) for i in range(1, sections + 1) for state in ("started", "finished")
        }
        findings = [e for e in events if e.get("event") == "finding"]
        assert len(findings) == sections
    else:
        parts = [json.loads(e["data"]) for e in events[:-1]]
        result = next(p["data"] for p in parts if p["type"] == "data-analysis")
        assert sum(p["type"] == "data-section" for p in parts) == 2 * sections
    assert [f["clause"] for f in result["findings"]] == clauses
    assert result["summary"] == "The whole document is risky."
    if fmt != "tokens":
        row = await wait_row(database_url, response.headers["x-analysis-id"])
        assert row.status == AnalysisStatus.COMPLETED
        assert [f["clause"] for f in row.findings or []] == clauses
        assert row.prompt_tokens == 100 * sections + 7


async def test_duplicates_across_sections_are_dropped(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    document = longest_terms_of_service()[: 3 * SECTION]
    spans = split_sections(document, SECTION)
    clause, answer = section_answer(document[spans[0][0] : spans[0][1]], 0)
    for _ in spans:
        upstream.script(Script(tokens=chunked(json.dumps(answer), 40)))
    upstream.script(Script(tokens=["One clause."]))
    settings = openai_settings(database_url, upstream, llm_section_chars=SECTION)
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        response = await client.post(
            "/v1/analyse", json={"content": document}, headers=bearer(token())
        )
    assert response.status_code == 200
    assert [f["clause"] for f in response.json()["findings"]] == [clause]


async def test_a_failing_section_fails_the_analysis_and_closes_the_others(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    document = longest_terms_of_service()[: 4 * SECTION]
    spans = split_sections(document, SECTION)
    _, answer = section_answer(document[spans[0][0] : spans[0][1]], 0)
    upstream.script(Script(tokens=chunked(json.dumps(answer), 5), delay=0.05))
    upstream.script(Script(tokens=chunked(json.dumps(answer), 5), cut_after=3))
    upstream.default_script = Script(tokens=chunked(json.dumps(answer), 5), delay=0.2)
    settings = openai_settings(database_url, upstream, llm_section_chars=SECTION)
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        response = await client.post(
            "/v1/analyse/stream",
            params={"format": "events"},
            json={"content": document},
            headers=bearer(token()),
        )
        events = sse_events(response.text)
        assert events[-1] == {"data": "[DONE]"}
        error = json.loads(events[-2]["data"])
        assert events[-2]["event"] == "error"
        assert error["code"].startswith("upstream") or error["code"] == "invalid_model_output"
        for request in upstream.requests:
            assert await request.wait_finished_async(5.0)
        row = await wait_row(database_url, response.headers["x-analysis-id"])
    assert row.status == AnalysisStatus.FAILED


@pytest.mark.slow
async def test_a_client_that_leaves_closes_every_open_section(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    document = longest_terms_of_service()[: 4 * SECTION]
    spans = split_sections(document, SECTION)
    _, answer = section_answer(document[spans[0][0] : spans[0][1]], 0)
    upstream.default_script = Script(tokens=chunked(json.dumps(answer), 3), delay=0.1)
    settings = openai_settings(database_url, upstream, llm_section_chars=SECTION)
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        client.stream(
            "POST",
            "/v1/analyse/stream",
            params={"format": "events"},
            json={"content": document},
            headers=bearer(token()),
        ) as response,
    ):
        analysis_id = response.headers["x-analysis-id"]
        async for line in response.aiter_lines():
            if line == "event: finding":
                break
    left_at = time.monotonic()
    open_requests = await eventually(lambda: upstream.requests, what="upstream requests")
    for request in open_requests:
        assert await request.wait_finished_async(2.0)
        if request.disconnected_at is not None:
            assert request.disconnected_at - left_at < 1.0
    # The client left while the first LLM_SECTION_CONCURRENCY (4) sections were streaming.
    assert len(open_requests) == min(len(spans), 4)
    row = await wait_row(database_url, analysis_id)
    assert (row.status, row.error_code) == (AnalysisStatus.CANCELLED, "client_disconnected")


@pytest.mark.slow
async def test_the_deadline_holds_with_sections_open(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    document = longest_terms_of_service()[: 3 * SECTION]
    spans = split_sections(document, SECTION)
    _, answer = section_answer(document[spans[0][0] : spans[0][1]], 0)
    upstream.default_script = Script(tokens=chunked(json.dumps(answer), 3), delay=0.2)
    settings = openai_settings(
        database_url, upstream, llm_section_chars=SECTION, stream_max_seconds=1.5
    )
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        response = await client.post(
            "/v1/analyse/stream", json={"content": document}, headers=bearer(token())
        )
    events = sse_events(response.text)
    assert json.loads(events[-2]["data"])["error"]["code"] == "deadline_exceeded"
    for request in upstream.requests:
        assert await request.wait_finished_async(2.0)
        assert not request.completed
    row = await wait_row(database_url, response.headers["x-analysis-id"])
    assert (row.status, row.error_code) == (AnalysisStatus.FAILED, "deadline_exceeded")


@pytest.mark.any_database
@pytest.mark.parametrize("fmt", ["tokens", "events", "ai-sdk"])
async def test_the_offline_analyzer_takes_a_long_document_in_one_pass(
    database_url: str, token: Factory, fmt: str
) -> None:
    document = longest_terms_of_service()
    body = {"content": document, "document_type": "terms_of_service"}
    async with (
        live_server(make_settings(database_url)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        response = await client.post(
            "/v1/analyse/stream", params={"format": fmt}, json=body, headers=bearer(token())
        )
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[-1] == {"data": "[DONE]"}
    assert not any("error" in e.get("data", "")[:12] for e in events)
    if fmt == "tokens":
        json.loads("".join(json.loads(e["data"])["token"] for e in events[:-1]))


@pytest.mark.any_database
async def test_the_limits_agree(database_url: str, token: Factory) -> None:
    async with (
        live_server(make_settings(database_url)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        headers = {**bearer(token()), "content-type": "application/json"}
        at_limit = await client.post(
            "/v1/analyse", json={"content": "a. " * (MAX_CONTENT_CHARS // 3)}, headers=headers
        )
        over = await client.post(
            "/v1/analyse", json={"content": "x" * (MAX_CONTENT_CHARS + 1)}, headers=bearer(token())
        )
        # The largest body the schema accepts: every character escaped, outside the BMP.
        escaped = '{"content": "' + "\\ud83d\\ude00" * MAX_CONTENT_CHARS + '"}'
        astral = await client.post("/v1/analyse", content=escaped.encode(), headers=headers)
    assert at_limit.status_code == 200
    assert over.status_code == 422
    assert str(MAX_CONTENT_CHARS) in over.json()["error"]["message"]
    assert astral.status_code != 413
    assert astral.status_code == 200


@pytest.mark.any_database
async def test_a_lower_limit_is_a_422_that_names_it(database_url: str, token: Factory) -> None:
    settings = make_settings(database_url, max_content_chars=1000)
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/v1/analyse", json={"content": "x" * 1001}, headers=bearer(token())
        )
    assert response.status_code == 422
    assert "1000" in response.json()["error"]["message"]
