"""Structured outputs: the answer's strict JSON schema, from the contract, on every model request.

The OpenAI-compatible test server refuses a `response_format` whose strict schema OpenAI or Azure
OpenAI would refuse, so every streamed analysis in the suite also checks the schema the service
sends.
"""

import json
import re
from enum import StrEnum
from typing import Any, get_args, get_origin

import httpx
import jsonschema_rs
import pytest
from pydantic import BaseModel

from app.prompt import answer_schema, answer_shape, response_format, strict_json_schema
from app.schemas import AnalysisDraft, Category, Finding, RiskLevel
from devtools.openai_server import OpenAIServer, Script, response_format_problem
from tests.conftest import Factory, bearer, live_server, openai_settings
from tests.test_stream import ANSWER, ANSWER_TOKENS, DOCUMENT

pytestmark = pytest.mark.any_database


def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every subschema, depth first."""
    found = [node]
    for sub in node.get("properties", {}).values():
        found += walk(sub)
    if "items" in node:
        found += walk(node["items"])
    for sub in node.get("anyOf", ()):
        found += walk(sub)
    return found


def test_the_schema_is_strict() -> None:
    schema = answer_schema()
    assert schema["type"] == "object"
    for node in walk(schema):
        assert not {"$ref", "$defs", "title", "default", "minimum", "maximum"} & set(node)
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert node["required"] == list(node["properties"])
    assert response_format_problem({"response_format": response_format()}, None) is None
    assert response_format()["json_schema"]["strict"] is True


def matches(node: dict[str, Any], annotation: Any) -> None:
    """The schema node says what the contract's type says (every field, type and choice)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        assert node["type"] == "object"
        assert list(node["properties"]) == list(annotation.model_fields)
        for name, info in annotation.model_fields.items():
            matches(node["properties"][name], info.annotation)
    elif get_origin(annotation) is list:
        assert node["type"] == "array"
        matches(node["items"], get_args(annotation)[0])
    elif isinstance(annotation, type) and issubclass(annotation, StrEnum):
        assert node == {**node, "type": "string", "enum": [m.value for m in annotation]}
    elif annotation is float:
        assert node["type"] == "number"
    else:
        assert node["type"] == "string", annotation


def test_the_schema_is_the_contract() -> None:
    matches(answer_schema(), AnalysisDraft)
    finding = answer_schema()["properties"]["findings"]["items"]
    assert finding["properties"]["category"]["enum"] == [c.value for c in Category]
    assert finding["properties"]["risk"]["enum"] == [r.value for r in RiskLevel]
    assert finding["properties"]["clause"]["description"] == "exact quote from the document"
    # What the schema lets a model produce, the contract accepts.
    validator = jsonschema_rs.validator_for(answer_schema())
    assert validator.is_valid(ANSWER)
    AnalysisDraft.model_validate(ANSWER)
    for wrong in (
        {**ANSWER, "extra": 1},
        {"findings": [{**ANSWER["findings"][0], "category": "made_up"}], "summary": "s"},
        {"findings": [{**ANSWER["findings"][0], "risk": "critical"}], "summary": "s"},
        {"findings": []},
    ):
        assert not validator.is_valid(wrong)


def test_the_prompt_describes_the_same_schema() -> None:
    shape = answer_shape()
    finding = answer_schema()["properties"]["findings"]["items"]["properties"]
    listed = re.findall(r'"(\w+)": ', shape)
    assert listed == ["findings", *finding, "summary"]
    assert '"risk": "low|medium|high"' in shape
    assert '"confidence": <number 0..1>' in shape


def test_the_transform() -> None:
    class Inner(BaseModel):
        tag: str | None = None
        level: RiskLevel = RiskLevel.LOW

    class Outer(BaseModel):
        inner: Inner
        inners: list[Inner] = []
        score: int = 3

    schema = strict_json_schema(Outer.model_json_schema())
    assert schema == {
        "type": "object",
        "properties": {
            "inner": {
                "type": "object",
                "properties": {
                    "tag": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "level": {"type": "string", "enum": ["low", "medium", "high"]},
                },
                "required": ["tag", "level"],
                "additionalProperties": False,
            },
            "inners": {"type": "array", "items": schema["properties"]["inner"]},
            "score": {"type": "integer"},
        },
        "required": ["inner", "inners", "score"],
        "additionalProperties": False,
    }
    assert (
        response_format_problem(
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "o", "strict": True, "schema": schema},
                }
            },
            None,
        )
        is None
    )

    class Node(BaseModel):
        children: list["Node"]

    with pytest.raises(ValueError, match="recursive"):
        strict_json_schema(Node.model_json_schema())


def strict_format(schema: dict[str, Any], name: str = "AnalysisDraft") -> dict[str, Any]:
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": schema},
        }
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        # The contract's own schema, untransformed: refs with siblings, defaults, a missing key.
        (strict_format(AnalysisDraft.model_json_schema()), "'additionalProperties' is required"),
        (
            strict_format(
                {
                    "type": "object",
                    "properties": {"c": {"type": "string", "default": "other"}},
                    "required": ["c"],
                    "additionalProperties": False,
                }
            ),
            "'default' is not permitted",
        ),
        (
            strict_format(
                {
                    "type": "object",
                    "properties": {"c": {"$ref": "#/$defs/C", "default": "x"}},
                    "required": ["c"],
                    "additionalProperties": False,
                    "$defs": {"C": {"type": "string", "enum": ["x"]}},
                }
            ),
            "'default' is not permitted",
        ),
        (strict_format({**answer_schema(), "additionalProperties": True}), "additionalProperties"),
        (
            strict_format({**answer_schema(), "required": ["findings"]}),
            "Missing 'summary'",
        ),
        (
            strict_format(
                {
                    "type": "object",
                    "properties": {"n": {"type": "number", "minimum": 0}},
                    "required": ["n"],
                    "additionalProperties": False,
                }
            ),
            "'minimum' is not permitted",
        ),
        (strict_format({"type": "array", "items": {"type": "string"}}), "root schema"),
        (strict_format(answer_schema(), name="an analysis"), "name must match"),
        ({"response_format": {"type": "xml"}}, "type must be one of"),
    ],
)
def test_the_test_server_refuses_what_the_providers_refuse(
    body: dict[str, Any], problem: str
) -> None:
    found = response_format_problem(body, None)
    assert found is not None
    assert problem in found


def test_the_test_server_refuses_structured_outputs_on_an_old_azure_version() -> None:
    body = {"response_format": response_format()}
    assert response_format_problem(body, "2024-10-01-preview") is None
    assert "api-version" in (response_format_problem(body, "2024-06-01") or "")
    # A non-strict schema is not checked, as the providers do not check it either.
    loose = {"response_format": {**response_format(), "json_schema": {"name": "x", "schema": {}}}}
    assert response_format_problem(loose, None) is None


async def test_the_test_server_answers_400_over_http(upstream: OpenAIServer) -> None:
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        **strict_format(AnalysisDraft.model_json_schema()),
    }
    async with httpx.AsyncClient(base_url=upstream.base_url) as client:
        response = await client.post("/chat/completions", json=body)
    assert response.status_code == 400
    assert (
        "Invalid schema for response_format 'AnalysisDraft'" in response.json()["error"]["message"]
    )


def provider_settings(database_url: str, upstream: OpenAIServer, provider: str, **more: Any) -> Any:
    if provider == "azure":
        more = {
            "llm_provider": "azure",
            "azure_openai_endpoint": upstream.azure_endpoint,
            "azure_openai_api_key": "azure-key",
            **more,
        }
    return openai_settings(database_url, upstream, **more)


async def analyse(settings: Any, upstream: OpenAIServer, user: str, fmt: str) -> str:
    upstream.script(Script(tokens=ANSWER_TOKENS))
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/v1/analyse/stream",
            params={"format": fmt},
            json=DOCUMENT,
            headers={**bearer(user), "X-Request-ID": "req-structured-0001"},
        )
    assert response.status_code == 200, response.text
    body = response.text
    if analysis_id := response.headers.get("x-analysis-id"):
        body = body.replace(analysis_id, "<id>")
    body = re.sub(r'"processed_at":\s*"[^"]+"', '"processed_at":"<t>"', body)
    return re.sub(r'"ttft_ms":\s*\d+', '"ttft_ms":<ms>', body)


@pytest.mark.parametrize("fmt", ["tokens", "events"])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])
@pytest.mark.parametrize("provider", ["openai", "azure"])
async def test_requests_carry_the_schema_and_the_stream_is_unchanged(
    database_url: str, upstream: OpenAIServer, token: Factory, provider: str, fast: bool, fmt: str
) -> None:
    user = token()
    streams, bodies = [], []
    for structured in (True, False):
        settings = provider_settings(
            database_url, upstream, provider, llm_fast_path=fast, llm_structured_output=structured
        )
        streams.append(await analyse(settings, upstream, user, fmt))
        request = upstream.requests[-1]
        assert request.status == 200
        bodies.append(dict(request.body))
    on, off = bodies
    assert on.pop("response_format") == response_format()
    assert "response_format" not in off
    nonce = re.compile(r"DOCUMENT [0-9a-f]{32}>>>")
    assert nonce.sub("", json.dumps(on, sort_keys=True)) == nonce.sub(
        "", json.dumps(off, sort_keys=True)
    )
    # The same bytes to the client with or without it: tokens, findings, result.
    assert streams[0] == streams[1]
    if fmt == "events":
        assert "event: finding" in streams[0]


async def test_the_section_summary_call_is_plain_text(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    """Only the analysis calls are held to the schema: the summary of sections is prose."""
    content = "\n\n".join(f"{i}. The Supplier's liability shall be unlimited." for i in range(1, 5))
    settings = openai_settings(database_url, upstream, llm_section_chars=60)
    upstream.default_script = Script(tokens=ANSWER_TOKENS)
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/v1/analyse/stream", json={"content": content}, headers=bearer(token())
        )
    assert response.status_code == 200
    formats = [r.body.get("response_format") for r in upstream.requests]
    assert len(formats) >= 3
    assert formats[:-1] == [response_format()] * (len(formats) - 1)
    assert formats[-1] is None


def test_a_finding_with_every_field_is_what_the_schema_asks_for() -> None:
    finding = answer_schema()["properties"]["findings"]["items"]
    assert finding["required"] == list(Finding.model_fields)
