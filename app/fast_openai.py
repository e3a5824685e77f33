"""A cheaper chunk path for ChatOpenAI and AzureChatOpenAI, behind the same LangChain interface.

The stock path has the SDK build a pydantic `ChatCompletionChunk` for every chunk, dump it back
to a dict for langchain-openai, and wraps each read in `asyncio.wait_for` (a new task per chunk
on Python 3.11). Here the request still goes through the SDK (authentication, base URL, Azure
deployment and API version, retries before the first byte, error types), but the event stream is
read as raw bytes and each chunk's JSON goes straight to langchain-openai's own dict conversion.
Stalls are bounded by the HTTP client's read timeout instead of a per-chunk timer.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage, BaseMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from langchain_openai.chat_models.base import _handle_openai_api_error, _handle_openai_bad_request

_DONE = b"[DONE]"


async def sse_data(lines: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The `data:` payloads of a Server-Sent Events byte stream, one per event."""
    buffer = b""
    async for block in lines:
        buffer += block.replace(b"\r\n", b"\n") if b"\r" in block else block
        while True:
            end = buffer.find(b"\n\n")
            if end < 0:
                break
            event, buffer = buffer[:end], buffer[end + 2 :]
            data = [
                line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
            ]
            if data:
                yield b"\n".join(data)


class FastChunks:
    """Mixin: overrides `_astream` of a langchain-openai chat model for plain chat completions."""

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        *,
        stream_usage: bool | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        model: Any = self
        if kwargs.get("response_format") or model.include_response_headers or model._uses_gateway:
            # Structured output and header capture keep the stock path.
            async for chunk in super()._astream(  # type: ignore[misc]
                messages, stop, run_manager, stream_usage=stream_usage, **kwargs
            ):
                yield chunk
            return
        kwargs["stream"] = True
        if model._should_stream_usage(stream_usage, **kwargs):
            kwargs["stream_options"] = {"include_usage": True}
        payload = model._get_request_payload(messages, stop=stop, **kwargs)
        chunk_class: type[BaseMessageChunk] = AIMessageChunk
        try:
            async with model.async_client.with_streaming_response.create(**payload) as response:
                raw = response.http_response
                async for data in sse_data(raw.aiter_bytes()):
                    if data == _DONE:
                        break
                    chunk = json.loads(data)
                    if isinstance(chunk, dict) and chunk.get("error"):
                        raise openai.APIError(
                            str(chunk["error"].get("message", "stream error")),
                            raw.request,
                            body=chunk["error"],
                        )
                    generation = model._convert_chunk_to_generation_chunk(chunk, chunk_class, {})
                    if generation is None:
                        continue
                    chunk_class = generation.message.__class__
                    if run_manager:
                        await run_manager.on_llm_new_token(generation.text, chunk=generation)
                    yield generation
        except openai.BadRequestError as e:
            _handle_openai_bad_request(e)
        except openai.APIError as e:
            _handle_openai_api_error(e)


class FastChatOpenAI(FastChunks, ChatOpenAI):
    pass


class FastAzureChatOpenAI(FastChunks, AzureChatOpenAI):
    pass
