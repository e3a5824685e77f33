from collections.abc import AsyncIterator

import httpx
import pytest

from devtools.openai_server import OpenAIServer
from tests.conftest import Factory, bearer, live_server, openai_settings

LIMIT = 256 * 1024


@pytest.mark.any_database
async def test_oversized_bodies_are_413_before_being_read(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    settings = openai_settings(
        database_url, upstream, max_body_bytes=LIMIT, max_content_chars=50_000
    )
    big = b'{"content": "' + b"x" * LIMIT + b'"}'

    async def chunked() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 16 * 1024):
            yield big[i : i + 16 * 1024]

    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        headers = {**bearer(token()), "content-type": "application/json"}
        declared = await client.post("/v1/analyse/stream", content=big, headers=headers)
        streamed = await client.post("/v1/analyse/stream", content=chunked(), headers=headers)
        fine = await client.post(
            "/v1/analyse/stream", json={"content": "x" * 60_000}, headers=bearer(token())
        )
    for response in (declared, streamed):
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "payload_too_large"
        assert str(LIMIT) in error["message"]
        assert error["request_id"] == response.headers["x-request-id"]
    # Under the byte limit, the contract's own limit (50 000 characters) answers.
    assert fine.status_code == 422
    assert upstream.requests == []
