"""The offline analyzer's answer as chat-model chunks, without LangChain's model machinery.

`langchain_core.language_models` (callbacks, tracers, LangSmith's schemas) takes longer to
import than everything else the offline analyzer needs together, and the service only ever
streams from its model. So `LLM_PROVIDER=local` serves `OfflineStream`, which streams exactly the
chunks that `OfflineAnalyzer` (app/analyzer/chat_model.py, the full LangChain chat model built on
the same functions) streams, and a process serving it never imports that machinery.
"""

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata

from app.analyzer.engine import analyse
from app.prompt import read_document

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


def usage(messages: Sequence[BaseMessage], text: str) -> UsageMetadata:
    prompt_chars = sum(len(m.content) if isinstance(m.content, str) else 0 for m in messages)
    input_tokens, output_tokens = _estimate_tokens(prompt_chars), _estimate_tokens(len(text))
    return UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


def answer(messages: Sequence[BaseMessage]) -> str:
    content, document_type = read_document(list(messages))
    draft = analyse(content, document_type)
    return json.dumps(draft.model_dump(mode="json"), ensure_ascii=False)


def document_chars(messages: Sequence[BaseMessage]) -> int:
    return sum(len(m.content) if isinstance(m.content, str) else 0 for m in messages)


def metadata(model_name: str) -> dict[str, Any]:
    return {"model_name": model_name, "finish_reason": "stop"}


def chunks(messages: Sequence[BaseMessage], text: str, model_name: str) -> list[AIMessageChunk]:
    """The answer's pieces, then an empty last chunk with the usage and the metadata."""
    pieces = [AIMessageChunk(content=piece) for piece in split_stream(text)]
    final = AIMessageChunk(
        content="",
        usage_metadata=usage(messages, text),
        response_metadata=metadata(model_name),
        chunk_position="last",
    )
    return [*pieces, final]


async def answer_async(messages: Sequence[BaseMessage]) -> str:
    if document_chars(messages) > THREAD_ABOVE_CHARS:
        return await asyncio.to_thread(answer, messages)
    return answer(messages)


class OfflineStream:
    """The offline analyzer as the service streams it: `astream(messages)` like a chat model."""

    model_name: str = MODEL_NAME

    async def astream(
        self, messages: Sequence[BaseMessage], **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        text = await answer_async(messages)
        for index, chunk in enumerate(chunks(messages, text, self.model_name), start=1):
            yield chunk
            if index % YIELD_EVERY_CHUNKS == 0:
                await asyncio.sleep(0)
