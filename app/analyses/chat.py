"""The request bodies of the Vercel AI SDK's `useChat` and `useCompletion`, read as an analysis.

`useChat` (DefaultChatTransport) posts `{id, messages, trigger, messageId, ...body}` with UI
messages; the document is the text of the last user message, its type the request's
`document_type` (the hook's `body` option) or that message's `metadata.document_type`.
`useCompletion` posts `{prompt, ...body}`. Both are loose on purpose: the SDK adds fields across
versions. `AnalyseRequest` stays the strict contract of `/v1/analyse/stream`.
"""

from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.schemas import AnalyseRequest


class UIMessagePart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class UIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = None
    role: Literal["system", "user", "assistant"]
    parts: list[UIMessagePart] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None


class ChatRequest(BaseModel):
    """What `useChat` sends; extra keys (`id`, `trigger`, `messageId`, …) are ignored."""

    model_config = ConfigDict(extra="allow")

    messages: list[UIMessage] = Field(min_length=1)
    document_type: str | None = None


class CompletionRequest(BaseModel):
    """What `useCompletion` sends: the document is the prompt."""

    model_config = ConfigDict(extra="allow")

    prompt: str
    document_type: str | None = None


def _refused(message: str, loc: tuple[str | int, ...], kind: str = "value_error") -> Exception:
    return RequestValidationError([{"type": kind, "loc": ("body", *loc), "msg": message}])


def _chat_document(body: ChatRequest) -> tuple[str, str | None]:
    index = next(
        (i for i in range(len(body.messages) - 1, -1, -1) if body.messages[i].role == "user"),
        None,
    )
    if index is None:
        raise _refused("no user message: the last one holds the document", ("messages",))
    message = body.messages[index]
    text = "\n".join(p.text for p in message.parts if p.type == "text" and p.text)
    if not text:
        raise _refused("the last user message has no text part", ("messages", index, "parts"))
    document_type = body.document_type
    if document_type is None and message.metadata:
        value = message.metadata.get("document_type")
        document_type = value if isinstance(value, str) else None
    return text, document_type


def analyse_request(body: ChatRequest | CompletionRequest) -> AnalyseRequest:
    """The analysis a chat or completion body asks for, validated like `AnalyseRequest`."""
    if isinstance(body, ChatRequest):
        content, document_type = _chat_document(body)
    else:
        content, document_type = body.prompt, body.document_type
    values: dict[str, str] = {"content": content}
    if document_type is not None:
        values["document_type"] = document_type
    try:
        return AnalyseRequest.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
