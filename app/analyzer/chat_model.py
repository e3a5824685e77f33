"""The offline analyzer as a LangChain chat model, streamed like a hosted LLM.

The service itself streams `app.analyzer.stream.OfflineStream` (the same chunks, without
LangChain's model machinery to import); this is the analyzer for LangChain compositions.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from app.analyzer.stream import (
    MAX_PIECE_CHARS,
    MIN_PIECE_CHARS,
    MODEL_NAME,
    YIELD_EVERY_CHUNKS,
    answer,
    answer_async,
    chunks,
    split_stream,
    usage,
)

__all__ = ["MAX_PIECE_CHARS", "MIN_PIECE_CHARS", "OfflineAnalyzer", "split_stream"]


class OfflineAnalyzer(BaseChatModel):
    """Deterministic clause analysis with no network and no API key (`LLM_PROVIDER=local`)."""

    model_name: str = MODEL_NAME

    @property
    def _llm_type(self) -> str:
        return "offline-analyzer"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _metadata(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "finish_reason": "stop"}

    def _chunks(self, messages: list[BaseMessage], text: str) -> list[ChatGenerationChunk]:
        pieces = chunks(messages, text, self.model_name)
        return [
            ChatGenerationChunk(
                message=AIMessageChunk(
                    content=piece.content,
                    usage_metadata=piece.usage_metadata,
                    response_metadata=dict(piece.response_metadata),
                    chunk_position="last" if piece.last else None,
                ),
                generation_info=self._metadata() if piece.last else None,
            )
            for piece in pieces
        ]

    def _result(self, messages: list[BaseMessage], text: str) -> ChatResult:
        message = AIMessage(
            content=text,
            usage_metadata=usage(messages, text),
            response_metadata=self._metadata(),
        )
        return ChatResult(
            generations=[ChatGeneration(message=message, generation_info=self._metadata())],
            llm_output={"model_name": self.model_name},
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._result(messages, answer(messages))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._result(messages, await answer_async(messages))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks(messages, answer(messages))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        text = await answer_async(messages)
        for index, chunk in enumerate(self._chunks(messages, text), start=1):
            yield chunk
            if index % YIELD_EVERY_CHUNKS == 0:
                await asyncio.sleep(0)
