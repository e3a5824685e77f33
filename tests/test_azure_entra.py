"""Keyless Azure OpenAI: the service's managed identity gets an Entra ID token for the model.

A real local managed-identity endpoint (the App Service / Container Apps protocol) hands out a
fake token; the OpenAI-compatible test server records the bearer header the model call carried.
"""

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from devtools.identity_server import IdentityServer
from devtools.openai_server import OpenAIServer, Script
from tests.conftest import Factory, bearer, live_server, openai_settings
from tests.test_stream import ANSWER_TOKENS, DOCUMENT, sse_events

pytestmark = pytest.mark.any_database

CLIENT_ID = "00000000-0000-4000-8000-00000000c11d"
# What a platform or a developer's shell could set, and would change which credential answers.
OTHER_CREDENTIALS = (
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
)


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityServer]:
    """The platform's token endpoint, in the environment as Container Apps puts it there."""
    for name in OTHER_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    with IdentityServer() as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        # As the production manifest pins it: the managed identity and nothing else.
        monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
        yield server


def azure_settings(database_url: str, upstream: OpenAIServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_provider": "azure",
        "azure_openai_endpoint": upstream.azure_endpoint,
        "azure_openai_deployment": "gpt-4o-prod",
        "azure_client_id": CLIENT_ID,
        "log_level": "debug",
    }
    values.update(overrides)
    return openai_settings(database_url, upstream, **values)


def test_the_way_to_authenticate_follows_the_key() -> None:
    def auth(**values: Any) -> str:
        settings = Settings(llm_provider="azure", azure_openai_endpoint="https://x", **values)
        return settings.azure_auth

    assert auth() == "entra"
    assert auth(azure_openai_api_key="k") == "key"
    assert auth(azure_openai_api_key="k", azure_openai_auth="entra") == "entra"
    assert auth(azure_openai_auth="entra") == "entra"


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])
@pytest.mark.parametrize("auth", ["entra", None], ids=["explicit", "no-key"])
async def test_an_analysis_streams_with_the_identitys_token(
    database_url: str,
    upstream: OpenAIServer,
    identity: IdentityServer,
    token: Factory,
    caplog: pytest.LogCaptureFixture,
    auth: str | None,
    fast: bool,
) -> None:
    # An explicit `entra` wins over a key that is still configured: the key is never sent.
    key = {"azure_openai_api_key": "stale-key"} if auth else {}
    settings = azure_settings(
        database_url, upstream, azure_openai_auth=auth, llm_fast_path=fast, **key
    )
    upstream.script(Script(tokens=ANSWER_TOKENS), times=2)
    caplog.set_level(logging.DEBUG)
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(2):
            response = await client.post(
                "/v1/analyse/stream",
                params={"format": "events"},
                json=DOCUMENT,
                headers=bearer(token()),
            )
            assert response.status_code == 200, response.text
            assert sse_events(response.text)[-2]["event"] == "result"

    requests = upstream.requests
    assert len(requests) == 2
    for request in requests:
        assert request.deployment == "gpt-4o-prod"
        assert request.headers["authorization"] == f"Bearer {identity.token}"
        assert "api-key" not in request.headers
    # One token for both analyses: azure-identity caches it until shortly before it expires.
    [fetch] = identity.requests
    assert fetch.headers["x-identity-header"] == identity.header
    assert fetch.query["resource"] == "https://cognitiveservices.azure.com"
    assert fetch.query["client_id"] == CLIENT_ID
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert identity.token not in logged
    assert identity.header not in logged


async def test_a_failing_token_endpoint_is_a_retryable_503_before_the_first_token(
    database_url: str,
    upstream: OpenAIServer,
    identity: IdentityServer,
    token: Factory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What Container Apps answers when the identity is not assigned to the app.
    identity.status = 400
    settings = azure_settings(database_url, upstream)
    caplog.set_level(logging.INFO)
    headers = bearer(token(org="org-no-identity"))
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/analyse/stream", json=DOCUMENT, headers=headers)
        listed = await client.get("/v1/analyses", headers=headers)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "upstream_token_unavailable"
    assert error["retryable"] is True
    assert error["request_id"] == response.headers["x-request-id"]
    assert identity.requests, "the token endpoint was asked"
    assert upstream.requests == [], "no model request without a token"
    [row] = listed.json()["items"]
    assert (row["status"], row["error_code"]) == ("failed", "upstream_token_unavailable")
    [line] = [r for r in caplog.records if r.getMessage().startswith("model request failed")]
    assert "code=upstream_token_unavailable" in line.getMessage()
    assert "TokenUnavailable < ClientAuthenticationError" in line.getMessage()
    assert identity.header not in "\n".join(r.getMessage() for r in caplog.records)


def test_the_token_is_not_in_the_settings_dump(identity: IdentityServer) -> None:
    """Nothing of the identity reaches the settings (and so nothing of it reaches /ready)."""
    settings = Settings(llm_provider="azure", azure_openai_endpoint="https://x")
    assert identity.header not in json.dumps(settings.model_dump(mode="json"))


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda token: b'{"access_token": "' + token.encode(), id="truncated"),
        pytest.param(lambda token: b"<html>" + token.encode() + b"</html>", id="not-json"),
        pytest.param(lambda token: b"{}", id="no-token"),
    ],
)
async def test_a_garbled_token_answer_is_a_503_and_never_logged(
    database_url: str,
    upstream: OpenAIServer,
    identity: IdentityServer,
    token: Factory,
    caplog: pytest.LogCaptureFixture,
    answer: Any,
) -> None:
    identity.raw_body = answer(identity.token)
    settings = azure_settings(database_url, upstream)
    caplog.set_level(logging.DEBUG)
    headers = bearer(token())
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/analyse/stream", json=DOCUMENT, headers=headers)
    assert response.status_code == 503
    error = response.json()["error"]
    assert (error["code"], error["retryable"]) == ("upstream_token_unavailable", True)
    assert error["request_id"] == response.headers["x-request-id"]
    assert identity.requests, "the token endpoint was asked"
    assert upstream.requests == []
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "model request failed: code=upstream_token_unavailable" in logged
    assert identity.token not in logged
    assert identity.header not in logged
