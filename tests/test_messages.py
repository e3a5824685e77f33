"""Error messages a person can act on."""

import json

import pytest

from devtools.openai_server import OpenAIServer, Script
from tests.conftest import Factory, bearer, openai_settings, running_client

DOCUMENT = {"content": "The Supplier's liability shall be unlimited."}


@pytest.mark.any_database
@pytest.mark.parametrize(
    ("answer", "counted"),
    [
        ({"findings": []}, "(1 error)"),
        ({"findings": [{"clause": "x"}]}, "(4 errors)"),
    ],
)
async def test_invalid_model_output_counts_its_errors_in_english(
    database_url: str,
    upstream: OpenAIServer,
    token: Factory,
    answer: dict[str, object],
    counted: str,
) -> None:
    upstream.script(Script.from_text(json.dumps(answer)))
    async with running_client(openai_settings(database_url, upstream)) as client:
        response = await client.post("/v1/analyse", json=DOCUMENT, headers=bearer(token()))
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_model_output"
    assert error["message"].endswith(counted), error["message"]
