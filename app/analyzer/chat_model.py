"""The offline analyzer as a LangChain chat model, streamed like a hosted LLM."""

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from app.analyzer.engine import analyse
from app.prompt import read_document

MAX_PIECE_CHARS = 12
MIN_PIECE_CHARS = 3
# Documents above this size are analysed in a worker thread so the event loop keeps serving.
_THREAD_ABOVE_CHARS = 20_000
_YIELD_EVERY_CHUNKS = 32
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


def _usage(messages: list[BaseMessage], text: str) -> UsageMetadata:
    prompt_chars = sum(len(m.content) if isinstance(m.content, str) else 0 for m in messages)
    input_tokens, output_tokens = _estimate_tokens(prompt_chars), _estimate_tokens(len(text))
    return UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


def _answer(messages: list[BaseMessage]) -> str:
    content, document_type = read_document(messages)
    draft = analyse(content, document_type)
    return json.dumps(draft.model_dump(mode="json"), ensure_ascii=False)


class OfflineAnalyzer(BaseChatModel):
    """Deterministic clause analysis with no network and no API key (`LLM_PROVIDER=local`)."""

    model_name: str = "offline-analyzer-1"

    @property
    def _llm_type(self) -> str:
        return "offline-analyzer"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _metadata(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "finish_reason": "stop"}

    def _chunks(self, messages: list[BaseMessage], text: str) -> list[ChatGenerationChunk]:
        chunks = [
            ChatGenerationChunk(message=AIMessageChunk(content=piece))
            for piece in split_stream(text)
        ]
        final = AIMessageChunk(
            content="",
            usage_metadata=_usage(messages, text),
            response_metadata=self._metadata(),
            chunk_position="last",
        )
        chunks.append(ChatGenerationChunk(message=final, generation_info=self._metadata()))
        return chunks

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = _answer(messages)
        message = AIMessage(
            content=text,
            usage_metadata=_usage(messages, text),
            response_metadata=self._metadata(),
        )
        return ChatResult(
            generations=[ChatGeneration(message=message, generation_info=self._metadata())],
            llm_output={"model_name": self.model_name},
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if _document_chars(messages) > _THREAD_ABOVE_CHARS:
            return await asyncio.to_thread(self._generate, messages, stop)
        return self._generate(messages, stop)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks(messages, _answer(messages))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        if _document_chars(messages) > _THREAD_ABOVE_CHARS:
            text = await asyncio.to_thread(_answer, messages)
        else:
            text = _answer(messages)
        for index, chunk in enumerate(self._chunks(messages, text), start=1):
            yield chunk
            if index % _YIELD_EVERY_CHUNKS == 0:
                await asyncio.sleep(0)


def _document_chars(messages: list[BaseMessage]) -> int:
    return sum(len(m.content) if isinstance(m.content, str) else 0 for m in messages)
