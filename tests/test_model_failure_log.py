"""Every failed model request logs the upstream host and the exception class, never the key."""

import logging

import httpx
import pytest

from devtools.openai_server import OpenAIServer, Script
from tests.conftest import Factory, bearer, make_settings, running_client
from tests.service_process import free_port
from tests.test_stream import ANSWER_TOKENS, DOCUMENT

pytestmark = pytest.mark.any_database

API_KEY = "sk-never-in-the-logs-0123456789"


def failure_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("model request failed")
    ]


def no_secret_anywhere(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert API_KEY not in text
        assert DOCUMENT["content"] not in text


async def test_a_wrong_base_url_names_the_host_and_the_cause(
    database_url: str, token: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens there
    settings = make_settings(
        database_url,
        llm_provider="openai",
        openai_base_url=f"http://127.0.0.1:{port}/v1",
        openai_api_key=API_KEY,
        llm_max_retries=0,
    )
    caplog.set_level(logging.INFO)
    async with running_client(settings) as client:
        response = await client.post(
            "/v1/analyse/stream", json=DOCUMENT, headers=bearer(token()), timeout=60
        )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"
    [line] = failure_lines(caplog)
    assert f"upstream=127.0.0.1:{port}" in line
    assert "code=upstream_unavailable" in line
    assert "ConnectError" in line or "ConnectionRefusedError" in line
    no_secret_anywhere(caplog)


@pytest.mark.parametrize(
    ("script", "code", "cause"),
    [
        (Script(status=500), "upstream_error", "(HTTP 500)"),
        (Script(status=401), "upstream_auth", "AuthenticationError(HTTP 401)"),
        (Script(tokens=ANSWER_TOKENS, cut_after=3), "upstream_unavailable", "Error"),
    ],
)
async def test_upstream_failures_name_the_host_and_the_class(
    database_url: str,
    upstream: OpenAIServer,
    token: Factory,
    caplog: pytest.LogCaptureFixture,
    script: Script,
    code: str,
    cause: str,
) -> None:
    upstream.script(script)
    settings = make_settings(
        database_url,
        llm_provider="openai",
        openai_base_url=upstream.base_url,
        openai_api_key=API_KEY,
        llm_max_retries=0,
    )
    caplog.set_level(logging.INFO)
    async with running_client(settings) as client:
        response = await client.post(
            "/v1/analyse/stream", json=DOCUMENT, headers=bearer(token()), timeout=60
        )
        await response.aread()
    assert response.status_code in (200, 502)
    [line] = failure_lines(caplog)
    assert f"upstream=127.0.0.1:{upstream.port}" in line
    assert f"code={code}" in line
    assert cause in line.split("cause=", 1)[1]
    no_secret_anywhere(caplog)
    assert isinstance(response, httpx.Response)
