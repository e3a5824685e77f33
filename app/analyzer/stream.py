"""The offline analyzer's answer as chat-model chunks, without LangChain.

LangChain (its model machinery, LangSmith's schemas, even its message classes, which import
`requests`) takes longer to import than everything else the offline analyzer needs together, and
the service only ever streams from its model. So `LLM_PROVIDER=local` serves `OfflineStream`,
which reads the prompt's (role, text) pairs and streams `Piece`s with what the service reads of
a chat model's chunk (content, usage, metadata): exactly what `OfflineAnalyzer`
(app/analyzer/chat_model.py, the LangChain chat model built on the same functions) streams as
`AIMessageChunk`s. A process serving it never imports LangChain.
"""

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.analyzer.engine import analyse
from app.prompt import read_document, role_and_text

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.messages.ai import UsageMetadata

    Messages = Sequence[tuple[str, str] | BaseMessage]

MODEL_NAME = "offline-analyzer-1"
MAX_PIECE_CHARS = 12
MIN_PIECE_CHARS = 3
# Documents above this size are analysed in a worker thread so the event loop keeps serving.
THREAD_ABOVE_CHARS = 20_000
YIELD_EVERY_CHUNKS = 32
_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def split_stream(text: str) -> list[str]:
    """Token-sized pieces (3-12 characters, the last may be shorter) that join back to `text`."""
    pieces: list[str] = []
    current = ""
    for token in _TOKEN.findall(text):
        current += token
        while len(current) > MAX_PIECE_CHARS:
            pieces.append(current[:MAX_PIECE_CHARS])
            current = current[MAX_PIECE_CHARS:]
        if len(current) >= MIN_PIECE_CHARS:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def _estimate_tokens(chars: int) -> int:
    return math.ceil(chars / 4)


@dataclass(frozen=True, slots=True)
class Piece:
    """One chunk of the answer: what the service reads of a LangChain `AIMessageChunk`."""

    content: str
    usage_metadata: "UsageMetadata | None" = None
    response_metadata: Mapping[str, Any] = field(default_factory=dict)
    last: bool = False


def usage(messages: "Messages", text: str) -> "UsageMetadata":
    input_tokens = _estimate_tokens(document_chars(messages))
    output_tokens = _estimate_tokens(len(text))
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


def answer(messages: "Messages") -> str:
    content, document_type = read_document(list(messages))
    draft = analyse(content, document_type)
    return json.dumps(draft.model_dump(mode="json"), ensure_ascii=False)


def document_chars(messages: "Messages") -> int:
    return sum(len(role_and_text(m)[1]) for m in messages)


def metadata(model_name: str) -> dict[str, Any]:
    return {"model_name": model_name, "finish_reason": "stop"}


def chunks(messages: "Messages", text: str, model_name: str) -> list[Piece]:
    """The answer's pieces, then an empty last chunk with the usage and the metadata."""
    pieces = [Piece(piece) for piece in split_stream(text)]
    final = Piece("", usage(messages, text), metadata(model_name), last=True)
    return [*pieces, final]


async def answer_async(messages: "Messages") -> str:
    if document_chars(messages) > THREAD_ABOVE_CHARS:
        return await asyncio.to_thread(answer, messages)
    return answer(messages)


class OfflineStream:
    """The offline analyzer as the service streams it: `astream(messages)` like a chat model."""

    model_name: str = MODEL_NAME

    async def astream(self, messages: "Messages", **kwargs: Any) -> AsyncIterator[Piece]:
        text = await answer_async(messages)
        for index, chunk in enumerate(chunks(messages, text, self.model_name), start=1):
            yield chunk
            if index % YIELD_EVERY_CHUNKS == 0:
                await asyncio.sleep(0)
