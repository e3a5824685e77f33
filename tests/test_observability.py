"""Structured logs that never carry documents or tokens, and metrics correct across two workers."""

import asyncio
import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET, bearer, claims_for, make_settings, running_client, sign
from tests.service_process import ServiceProcess, clean_env

DOC_MARKER = "DOCUMENT-MARKER-7f3a9c"
TOKEN_MARKER = "TOKEN-MARKER-b81e44"


@pytest.mark.process
async def test_json_access_lines_without_documents_or_tokens(
    database_url: str, tmp_path: Path
) -> None:
    env = clean_env(
        APP_ENV="production",
        FASTAPI_JWT_SECRET=TEST_SECRET,
        DATABASE_URL=database_url,
        LOG_FORMAT="json",
    )
    document = {
        "content": f"{DOC_MARKER} The Supplier's liability shall be unlimited. {DOC_MARKER}",
        "document_type": "contract",
    }
    org = claims_for()["org"]
    good = sign(claims_for(org=org, sub="logger-user", note=TOKEN_MARKER))
    forged = sign(claims_for(note=TOKEN_MARKER), secret="some-other-secret-0123456789abcdefghij")
    with ServiceProcess(env, tmp_path / "server.log") as service:
        await asyncio.to_thread(service.wait_ready)
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
            headers = {**bearer(good), "X-Request-ID": "req-log-test-0001"}
            streamed = await client.post("/v1/analyse/stream", json=document, headers=headers)
            assert streamed.status_code == 200
            assert (
                await client.post("/v1/analyse", json=document, headers=bearer(good))
            ).status_code == 200
            assert (await client.get("/v1/me", headers=bearer(forged))).status_code == 401
            too_long = {"content": DOC_MARKER * 30_000}  # over MAX_CONTENT_CHARS
            assert (
                await client.post("/v1/analyse", json=too_long, headers=bearer(good))
            ).status_code == 422
            assert (await client.get("/health")).status_code == 200
        service.stop()
        log = service.output()

    for secret in (DOC_MARKER, TOKEN_MARKER, good, forged, TEST_SECRET):
        assert secret not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "app.access"]
    stream_line = next(line for line in access if line["request_id"] == "req-log-test-0001")
    assert stream_line["route"] == "/v1/analyse/stream"
    assert stream_line["status"] == 200
    assert stream_line["org"] == org
    assert stream_line["sub"] == "logger-user"
    assert stream_line["outcome"] == "completed"
    assert stream_line["tokens"] > 10
    assert stream_line["ttft_ms"] is not None
    assert stream_line["duration_ms"] >= 0
    assert stream_line["analysis_id"] == streamed.headers["x-analysis-id"]
    assert {line["status"] for line in access} >= {200, 401, 422}
    assert not any(line["route"] == "/health" for line in access)
    # From the moment the app configures logging (uvicorn's own first two lines come before),
    # every line is JSON, and every access line carries its request id.
    text = log.splitlines()
    first_json = next(i for i, line in enumerate(text) if line.startswith("{"))
    assert all(line.startswith("{") for line in text[first_json:] if line.strip())
    assert all("request_id" in line for line in access)


@pytest.mark.any_database
async def test_metrics_only_for_allowed_callers(database_url: str) -> None:
    async with running_client(make_settings(database_url, metrics_allow=["10.0.0.0/8"])) as client:
        # The ASGI test transport's client is 127.0.0.1: not in the allowed network here.
        refused = await client.get("/metrics")
    assert refused.status_code == 404
    async with running_client(make_settings(database_url)) as client:
        allowed = await client.get("/metrics")
    assert allowed.status_code == 200
    assert "http_requests_total" in allowed.text


def sample(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+]+)$"
    return sum(float(m) for m in re.findall(pattern, text, re.MULTILINE))


@pytest.mark.process
async def test_metrics_add_up_across_two_workers(database_url: str, tmp_path: Path) -> None:
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = clean_env(
        APP_ENV="test",
        FASTAPI_JWT_SECRET=TEST_SECRET,
        DATABASE_URL=database_url,
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
    )
    body = {"content": "The Supplier's liability shall be unlimited.", "document_type": "contract"}
    runs = 8
    with ServiceProcess(env, tmp_path / "server.log", ("--workers", "2")) as service:
        await asyncio.to_thread(service.wait_ready)
        for _ in range(runs):
            # A new connection each time, so both workers take requests.
            async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as fresh:
                headers = bearer(sign(claims_for()))
                response = await fresh.post("/v1/analyse/stream", json=body, headers=headers)
                assert response.status_code == 200
        pids = set()
        scrapes = []
        deadline = time.monotonic() + 10
        while len(scrapes) < 6 and time.monotonic() < deadline:
            async with httpx.AsyncClient(base_url=service.base_url) as fresh:
                scrapes.append((await fresh.get("/metrics")).text)
        service.stop()
        log = service.output()
    pids = set(re.findall(r"Started server process \[(\d+)\]", log))
    assert len(pids) >= 2
    for text in scrapes:
        assert sample(text, "analysis_outcomes_total", '{outcome="completed"}') == runs
        assert sample(text, "analysis_time_to_first_token_seconds_count") == runs
        assert sample(text, "analysis_tokens_relayed_total") > runs * 10
        assert (
            sample(
                text,
                "http_requests_total",
                '{method="POST",route="/v1/analyse/stream",status="200"}',
            )
            == runs
        )
        assert sample(text, "analysis_active_streams") == 0
