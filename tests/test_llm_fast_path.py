"""The fast chunk path produces exactly the messages, bytes, rows and errors of the stock path."""

import inspect
import json
import re

import httpx
import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.messages import AIMessageChunk, convert_to_messages
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from langchain_openai.chat_models.base import BaseChatOpenAI

from app.llm.fast_openai import STOCK_ONLY_SETTINGS, FastAzureChatOpenAI, FastChatOpenAI
from app.llm.transport import model_http_client
from app.prompt import build_messages, response_format
from app.schemas import AnalysisDraft
from devtools.openai_server import OpenAIServer, Script
from tests.conftest import Factory, bearer, live_server, openai_settings
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
    body = re.sub(r'"processed_at":"[^"]+"', '"processed_at":"<t>"', body)
    # The ai-sdk finish part carries the time to first token: a measurement, not the stream's.
    return re.sub(r'"ttft_ms":\d+', '"ttft_ms":<ms>', body)


async def run_once(
    database_url: str, upstream: OpenAIServer, token: str, script: Script, fast: bool, fmt: str
) -> tuple[int, str, tuple[object, ...] | None]:
    settings = openai_settings(database_url, upstream, llm_fast_path=fast)
    upstream.script(script)
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
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
@pytest.mark.slow
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


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])
@pytest.mark.any_database
async def test_the_upstream_connection_is_reused(
    database_url: str, upstream: OpenAIServer, token: Factory, fast: bool
) -> None:
    settings = openai_settings(database_url, upstream, llm_fast_path=fast)
    upstream.script(SCRIPTS["answer"])
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
        for _ in range(3):
            response = await client.post(
                "/v1/analyse/stream", json=DOCUMENT, headers=bearer(token())
            )
            assert response.status_code == 200
            assert response.text.endswith("data: [DONE]\n\n")
    assert len({request.connection_id for request in upstream.requests}) == 1


class Tokens(AsyncCallbackHandler):
    """A callback handler: with one, `astream` takes LangChain's own loop over `_astream`."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def on_llm_new_token(self, token: str, **kwargs: object) -> None:
        self.tokens.append(token)


def model(fast: bool, upstream: OpenAIServer, azure: bool, **options: object) -> ChatOpenAI:
    common: dict[str, object] = {"api_key": "x", "temperature": 0, "max_retries": 0, **options}
    common["http_async_client"] = model_http_client(10.0)
    if azure:
        cls: type = FastAzureChatOpenAI if fast else AzureChatOpenAI
        return cls(  # type: ignore[no-any-return]
            azure_endpoint=upstream.azure_endpoint,
            azure_deployment="gpt-4o",
            api_version="2024-10-21",
            **common,
        )
    cls = FastChatOpenAI if fast else ChatOpenAI
    return cls(model="gpt-4o", base_url=upstream.base_url, **common)  # type: ignore[no-any-return]


def comparable(chunks: list[AIMessageChunk]) -> list[dict[str, object]]:
    """The chunks as dicts, with LangChain's per-run message id made equal."""
    return [
        {
            **chunk.model_dump(),
            "id": "<run>" if (chunk.id or "").startswith("lc_run-") else chunk.id,
        }
        for chunk in chunks
    ]


async def collect(
    chat: ChatOpenAI, messages: list[tuple[str, str]], callbacks: bool
) -> tuple[list[AIMessageChunk], list[str]]:
    handler = Tokens()
    config = {"callbacks": [handler]} if callbacks else None
    try:
        return [chunk async for chunk in chat.astream(messages, config)], handler.tokens
    finally:
        await chat.http_async_client.aclose()


OPTIONS: dict[str, dict[str, object]] = {
    "usage": {"stream_usage": True},
    "no-usage": {"stream_usage": False},
    "max-tokens": {"stream_usage": True, "max_tokens": 300},
    "v1": {"stream_usage": True, "output_version": "v1"},
    "stop": {"stream_usage": True, "stop": ["STOP"]},
}


@pytest.mark.parametrize("callbacks", [False, True], ids=["plain", "callbacks"])
@pytest.mark.parametrize("azure", [False, True], ids=["openai", "azure"])
@pytest.mark.parametrize("options", list(OPTIONS))
async def test_fast_astream_yields_the_stock_messages(
    upstream: OpenAIServer, options: str, azure: bool, callbacks: bool
) -> None:
    messages = build_messages("Clause 1. The supplier's liability is unlimited.", "contract", "o")
    results = []
    for fast in (False, True):
        upstream.script(SCRIPTS["unicode"])
        chat = model(fast, upstream, azure, **OPTIONS[options])
        results.append(await collect(chat, messages, callbacks))
    (stock, stock_tokens), (quick, quick_tokens) = results
    assert comparable(quick) == comparable(stock)
    assert quick_tokens == stock_tokens
    assert stock[-1].chunk_position == "last"
    first, second = upstream.requests[-2:]
    assert first.body == second.body
    assert (first.path, first.query) == (second.path, second.query)


async def test_the_fast_path_is_taken(upstream: OpenAIServer) -> None:
    """Guards the comparison above: without callbacks the fast class does not run stock code."""
    chat = model(True, upstream, False, stream_usage=True)
    prompt = build_messages("Clause 1.", "contract", "o")
    # The service's (role, text) prompt, as `astream` converts it before choosing the path.
    messages = convert_to_messages(prompt)
    assert chat.fast_path_applies(messages, {})
    upstream.script(SCRIPTS["answer"])
    chunks, _ = await collect(chat, prompt, False)
    assert "".join(str(chunk.content) for chunk in chunks) == json.dumps(ANSWER)
    assert not chat.fast_path_applies(messages, {"tools": []})
    assert chat.fast_path_applies(messages, {"response_format": response_format()})
    assert chat.fast_path_applies(messages, {"response_format": {"type": "json_object"}})
    # A class to parse the answer into: the stock path (the SDK's parsing stream).
    assert not chat.fast_path_applies(messages, {"response_format": AnalysisDraft})
    assert not model(True, upstream, False, top_p=0.5).fast_path_applies(messages, {})
    assert not model(True, upstream, False, use_responses_api=True).fast_path_applies(messages, {})


def usage_total(chunks: list[AIMessageChunk]) -> tuple[int, int]:
    usages = [chunk.usage_metadata for chunk in chunks if chunk.usage_metadata]
    return sum(u["input_tokens"] for u in usages), sum(u["output_tokens"] for u in usages)


@pytest.mark.parametrize("azure", [False, True], ids=["openai", "azure"])
async def test_the_structured_output_request_is_the_stock_one(
    upstream: OpenAIServer, azure: bool
) -> None:
    """With `response_format`, the stock class streams through the SDK's parsing helper and
    yields its usage in a last chunk of its own; the fast path sends the same request and yields
    the same text and the same usage."""
    messages = build_messages("Clause 1. The supplier's liability is unlimited.", "contract", "o")
    results = []
    for fast in (False, True):
        upstream.script(SCRIPTS["answer"])
        chat = model(fast, upstream, azure, stream_usage=True)
        try:
            chunks = [c async for c in chat.astream(messages, response_format=response_format())]
        finally:
            await chat.http_async_client.aclose()
        results.append(chunks)
    stock, quick = results
    assert "".join(str(c.content) for c in quick) == "".join(str(c.content) for c in stock)
    assert "".join(str(c.content) for c in quick) == json.dumps(ANSWER)
    assert usage_total(quick) == usage_total(stock) == (77, len(SCRIPTS["answer"].tokens))
    assert quick[-1].chunk_position == stock[-1].chunk_position == "last"
    first, second = upstream.requests[-2:]
    assert first.status == second.status == 200
    assert first.body == second.body
    assert first.body["response_format"] == response_format()


def test_the_fast_path_knows_every_request_setting() -> None:
    """Fails when langchain-openai sends a setting the fast path neither sends nor hands over.

    `_default_params` is private: read here, in a test, so that an upgrade that adds or renames
    a request setting is caught before the fast path would silently drop it.
    """
    source = inspect.getsource(BaseChatOpenAI._default_params.fget)  # type: ignore[attr-defined]
    sent = set(re.findall(r'"(\w+)": self\.', source))
    handled = {"model", "stream", "temperature", "max_tokens"}
    assert sent - handled == set(STOCK_ONLY_SETTINGS)
    for name in STOCK_ONLY_SETTINGS:
        assert name in ChatOpenAI.model_fields
