"""`POST /v1/analyse/chat`: the bodies the AI SDK's `useChat` and `useCompletion` send, unmodified."""

import json
from typing import Any

import httpx

from app.schemas import AiSdkFinish, AnalysisStatus, StreamMetadata
from devtools.openai_server import OpenAIServer, Script
from tests.conftest import Factory, bearer, live_server, make_settings, openai_settings
from tests.test_stream import ANSWER, ANSWER_TOKENS

CONTRACT = (
    "8.2 The Supplier may terminate this Agreement at any time, for any reason, by written notice.\n"
    "4.3 The Customer's liability for any breach of this Agreement is unlimited.\n"
)


def use_chat_body(text: str, **extra: Any) -> dict[str, Any]:
    """DefaultChatTransport's body for a first message (ai 5+): id, messages, trigger, messageId."""
    return {
        "id": "chat-1",
        "messages": [
            {"id": "m-1", "role": "user", "parts": [{"type": "text", "text": text}], **extra}
        ],
        "trigger": "submit-message",
        "messageId": None,
    }


def parts(body: str) -> list[dict[str, Any]]:
    found = []
    for block in body.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                found.append(json.loads(line.removeprefix("data: ")))
    assert body.rstrip().endswith("data: [DONE]")
    return found


async def test_use_chat_body_streams_the_report(database_url: str, token: Factory) -> None:
    async with (
        live_server(make_settings(database_url)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        auth = bearer(token())
        body = use_chat_body(CONTRACT) | {"document_type": "contract"}
        response = await client.post("/v1/analyse/chat", json=body, headers=auth)
        assert response.status_code == 200, response.text
        assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
        stream = parts(response.text)
        kinds = [part["type"] for part in stream]
        assert kinds[:2] == ["start", "text-start"]
        assert kinds[-1] == "finish"
        assert kinds.index("data-finding") < kinds.index("text-end")
        finish = AiSdkFinish.model_validate(stream[-1])
        assert isinstance(finish.messageMetadata, StreamMetadata)
        assert str(finish.messageMetadata.analysis_id) == stream[0]["messageId"]
        assert finish.messageMetadata.ttft_ms is not None
        report = "".join(p["delta"] for p in stream if p["type"] == "text-delta")
        assert "## Findings" in report
        assert "## Summary" in report
        stored = await client.get(f"/v1/analyses/{stream[0]['messageId']}", headers=auth)
        assert stored.json()["status"] == AnalysisStatus.COMPLETED
        assert stored.json()["document_type"] == "contract"
        assert stored.json()["content_chars"] == len(CONTRACT)


async def test_document_type_from_the_message_metadata(database_url: str, token: Factory) -> None:
    async with (
        live_server(make_settings(database_url)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        auth = bearer(token())
        body = use_chat_body(CONTRACT, metadata={"document_type": "employment"})
        response = await client.post("/v1/analyse/chat", json=body, headers=auth)
        analysis_id = parts(response.text)[0]["messageId"]
        stored = await client.get(f"/v1/analyses/{analysis_id}", headers=auth)
        assert stored.json()["document_type"] == "employment"


async def test_use_completion_prompt(database_url: str, token: Factory) -> None:
    async with (
        live_server(make_settings(database_url)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        response = await client.post(
            "/v1/analyse/chat", json={"prompt": CONTRACT}, headers=bearer(token())
        )
        assert response.status_code == 200, response.text
        report = "".join(p["delta"] for p in parts(response.text) if p["type"] == "text-delta")
        assert "High risk" in report


async def test_refusals_say_what_is_wrong(database_url: str, token: Factory) -> None:
    async with (
        live_server(make_settings(database_url, max_content_chars=1000)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        auth = bearer(token())
        # The strict contract is unchanged for the other route.
        strict = await client.post("/v1/analyse/stream", json=use_chat_body(CONTRACT), headers=auth)
        assert strict.status_code == 422
        no_text = use_chat_body("")
        empty = await client.post("/v1/analyse/chat", json=no_text, headers=auth)
        assert empty.status_code == 422
        assert empty.json()["error"]["message"] == (
            "messages.0.parts: the last user message has no text part"
        )
        assistant_only = {"messages": [{"role": "assistant", "parts": []}]}
        refused = await client.post("/v1/analyse/chat", json=assistant_only, headers=auth)
        assert refused.status_code == 422
        assert "no user message" in refused.json()["error"]["message"]
        too_long = await client.post("/v1/analyse/chat", json={"prompt": "x" * 1001}, headers=auth)
        assert too_long.status_code == 422
        assert too_long.json()["error"]["message"] == (
            "content: at most 1000 characters (MAX_CONTENT_CHARS)"
        )
        anonymous = await client.post("/v1/analyse/chat", json={"prompt": CONTRACT})
        assert anonymous.status_code == 401


async def test_finish_carries_the_models_usage(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, prompt_tokens=123))
    settings = openai_settings(database_url, upstream)
    async with (
        live_server(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        response = await client.post(
            "/v1/analyse/chat", json=use_chat_body(CONTRACT), headers=bearer(token())
        )
    stream = parts(response.text)
    finish = AiSdkFinish.model_validate(stream[-1])
    assert finish.messageMetadata is not None
    assert finish.messageMetadata.prompt_tokens == 123
    assert finish.messageMetadata.completion_tokens == len(ANSWER_TOKENS)
    findings = [p["data"]["finding"] for p in stream if p["type"] == "data-finding"]
    assert findings == ANSWER["findings"]
