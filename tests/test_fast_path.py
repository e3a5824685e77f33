"""The fast chunk path produces exactly the bytes, rows and errors of langchain-openai's stock path."""

import asyncio
import json
import re
import typing
from collections.abc import Iterator

import httpx
import pytest
import typing_extensions
from openai._utils._transform import PropertyInfo, async_maybe_transform
from openai.types.chat import completion_create_params

from app.fast_openai import FastChatOpenAI
from app.prompt import build_messages
from tests.conftest import Factory, bearer, live_server, openai_settings
from tests.openai_server import OpenAIServer, Script
from tests.test_stream import ANSWER, DOCUMENT, chunked, wait_row

UNICODE_ANSWER = {
    "findings": [
        {
            "clause": "La responsabilité du Fournisseur est illimitée — «sans plafond» ✓",
            "risk": "high",
            "explanation": 'Quote "marks", back\\slashes, emoji 🚨 and a\nnewline.',
            "confidence": 0.8,
        }
    ],
    "summary": "Ünïcödé summary.",
}
SCRIPTS = {
    "answer": Script(tokens=chunked(json.dumps(ANSWER), 5), prompt_tokens=77),
    "unicode": Script(tokens=chunked(json.dumps(UNICODE_ANSWER, ensure_ascii=False), 3)),
    "cut": Script(tokens=chunked(json.dumps(ANSWER), 5), cut_after=7),
    "invalid-json": Script(tokens=chunked(json.dumps(ANSWER), 5), invalid_json_after=4),
    "not-an-analysis": Script(tokens=["Sorry, ", "I cannot ", "help."]),
    "status-500": Script(status=500),
    "status-429": Script(status=429),
}


def normalise(body: str, analysis_id: str | None) -> str:
    if analysis_id:
        body = body.replace(analysis_id, "<analysis-id>")
    return re.sub(r'"processed_at":"[^"]+"', '"processed_at":"<t>"', body)


async def run_once(
    database_url: str, upstream: OpenAIServer, token: str, script: Script, fast: bool, fmt: str
) -> tuple[int, str, tuple[object, ...] | None]:
    settings = openai_settings(database_url, upstream, llm_fast_path=fast)
    upstream.script(script)
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/v1/analyse/stream",
            params={"format": fmt},
            json=DOCUMENT,
            headers={**bearer(token), "X-Request-ID": "req-identical-0001"},
        )
    analysis_id = response.headers.get("x-analysis-id")
    row = None
    if analysis_id:
        stored = await wait_row(database_url, analysis_id)
        row = (stored.status, stored.error_code, stored.findings, stored.summary)
        row += (stored.prompt_tokens, stored.completion_tokens)
    return response.status_code, normalise(response.text, analysis_id), row


@pytest.mark.parametrize("fmt", ["tokens", "events", "ai-sdk"])
@pytest.mark.parametrize("name", list(SCRIPTS))
@pytest.mark.any_database
async def test_fast_path_is_byte_identical(
    database_url: str, upstream: OpenAIServer, token: Factory, name: str, fmt: str
) -> None:
    user = token()
    stock = await run_once(database_url, upstream, user, SCRIPTS[name], False, fmt)
    fast = await run_once(database_url, upstream, user, SCRIPTS[name], True, fmt)
    assert fast == stock
    # Both went through the same HTTP request shape.
    first, second = upstream.requests[-2:] if name != "status-500" else upstream.requests[:2]
    nonce = re.compile(r"DOCUMENT [0-9a-f]{32}>>>")
    stock_body, fast_body = (json.dumps(r.body, sort_keys=True) for r in (first, second))
    assert nonce.sub("", stock_body) == nonce.sub("", fast_body)
    assert first.headers.get("authorization") == second.headers.get("authorization")


def _property_infos(tp: object, seen: set[int]) -> Iterator[str]:
    """Every alias or format the SDK's transform would apply anywhere inside the type `tp`."""
    if id(tp) in seen:
        return
    seen.add(id(tp))
    if typing_extensions.is_typeddict(tp):
        for name, hint in typing.get_type_hints(tp, include_extras=True).items():
            yield from (
                f"{getattr(tp, '__name__', tp)}.{name}: {info}"
                for info in _property_infos(hint, seen)
            )
        return
    for argument in typing.get_args(tp):
        if isinstance(argument, PropertyInfo):
            if argument.alias or argument.format or argument.format_template:
                yield repr(argument)
        else:
            yield from _property_infos(argument, seen)


def test_chat_completion_params_need_no_transform() -> None:
    """The fast path skips `async_maybe_transform`; that is only sound while it is the identity."""
    params = completion_create_params.CompletionCreateParamsStreaming
    assert list(_property_infos(params, set())) == []
    model = FastChatOpenAI(model="gpt-4o", api_key="x", stream_usage=True, temperature=0)
    messages = build_messages("Clause 1. The supplier's liability is unlimited.", "contract", "org")
    payload = model._payload(messages, ["STOP"], True)
    assert asyncio.run(async_maybe_transform(payload, params)) == payload


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])
@pytest.mark.any_database
async def test_the_upstream_connection_is_reused(
    database_url: str, upstream: OpenAIServer, token: Factory, fast: bool
) -> None:
    settings = openai_settings(database_url, upstream, llm_fast_path=fast)
    upstream.script(SCRIPTS["answer"])
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(3):
            response = await client.post(
                "/v1/analyse/stream", json=DOCUMENT, headers=bearer(token())
            )
            assert response.status_code == 200
            assert response.text.endswith("data: [DONE]\n\n")
    assert len({request.connection_id for request in upstream.requests}) == 1
