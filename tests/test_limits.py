"""Per-organisation concurrency and per-user rate, counted from the database across workers."""

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from devtools.openai_server import OpenAIServer, Script
from tests.conftest import (
    TEST_SECRET,
    Factory,
    bearer,
    claims_for,
    live_server,
    openai_settings,
    sign,
)
from tests.service_process import ServiceProcess, openai_env
from tests.test_stream import ANSWER_TOKENS, DOCUMENT


async def test_user_rate_limit(database_url: str, upstream: OpenAIServer, token: Factory) -> None:
    settings = openai_settings(database_url, upstream, user_requests_per_minute=3)
    upstream.default_script = Script(tokens=ANSWER_TOKENS)
    org = f"org-{uuid.uuid4().hex[:8]}"
    me, colleague = bearer(token(org=org, sub="me")), bearer(token(org=org, sub="colleague"))
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(3):
            assert (await client.post("/v1/analyse", json=DOCUMENT, headers=me)).status_code == 200
        refused = await client.post("/v1/analyse/stream", json=DOCUMENT, headers=me)
        assert (
            await client.post("/v1/analyse", json=DOCUMENT, headers=colleague)
        ).status_code == 200
        listed = (await client.get("/v1/analyses", headers=me)).json()["items"]
    assert refused.status_code == 429
    # A refused start leaves no row behind.
    assert [item["status"] for item in listed] == ["completed"] * 4
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert "per minute" in error["message"]
    assert error["retryable"] is True
    assert len(upstream.requests) == 4


@pytest.mark.slow
async def test_org_concurrency_holds_across_two_workers(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    settings = openai_settings(database_url, upstream, org_max_concurrent_streams=3)
    # Each stream holds its slot for about a second.
    upstream.default_script = Script(tokens=ANSWER_TOKENS, delay=1.0 / len(ANSWER_TOKENS))
    org = f"org-{uuid.uuid4().hex[:8]}"
    async with (
        live_server(settings) as first_url,
        live_server(settings) as second_url,
        httpx.AsyncClient(timeout=30) as client,
    ):

        async def start(i: int) -> httpx.Response:
            url = (first_url, second_url)[i % 2]
            headers = bearer(token(org=org, sub=f"user-{i}"))
            return await client.post(f"{url}/v1/analyse/stream", json=DOCUMENT, headers=headers)

        responses = await asyncio.gather(*(start(i) for i in range(8)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 3 + [429] * 5
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.headers["retry-after"]
        assert refused.json()["error"]["code"] == "rate_limited"
        # Finished streams free their slots.
        again = await start(100)
        assert again.status_code == 200
    assert len(upstream.requests) == 4


@pytest.mark.process
async def test_org_concurrency_holds_in_a_real_two_worker_process(
    database_url: str, upstream: OpenAIServer, tmp_path: Path
) -> None:
    env = openai_env(database_url, upstream.base_url, TEST_SECRET, ORG_MAX_CONCURRENT_STREAMS="2")
    upstream.default_script = Script(tokens=ANSWER_TOKENS, delay=1.5 / len(ANSWER_TOKENS))
    org = f"org-{uuid.uuid4().hex[:8]}"
    with ServiceProcess(env, tmp_path / "server.log", ("--workers", "2")) as service:
        await asyncio.to_thread(service.wait_ready)

        async def start(i: int) -> httpx.Response:
            # One connection per request, so the kernel spreads them over both workers.
            async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
                headers = bearer(token_for(org, f"user-{i}"))
                return await client.post("/v1/analyse/stream", json=DOCUMENT, headers=headers)

        responses = await asyncio.gather(*(start(i) for i in range(6)))
        service.stop()
    assert sorted(r.status_code for r in responses) == [200, 200, 429, 429, 429, 429]
    assert len(upstream.requests) == 2


def token_for(org: str, sub: str) -> str:
    return sign(claims_for(org=org, sub=sub))
