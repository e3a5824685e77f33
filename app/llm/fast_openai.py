"""A cheaper chunk path for ChatOpenAI and AzureChatOpenAI, behind the same LangChain interface.

The stock path has the SDK build a pydantic `ChatCompletionChunk` for every chunk, dump it back
to a dict for langchain-openai, and wraps each read in `asyncio.wait_for` (a new task per chunk
on Python 3.11); `BaseChatModel.astream` then validates an `AIMessageChunk` per token and keeps
every chunk until the stream ends. Here the request still goes through the SDK (authentication,
base URL, Azure deployment and API version, retries before the first byte, error types), but the
event stream is read as raw bytes:

- `_astream` hands each chunk's JSON to langchain-openai's own dict conversion (used by
  `ainvoke` and by `astream` whenever callbacks or tracing are configured);
- `astream`, with no callbacks, tracing or tools, yields one plain `AIMessageChunk` per content
  delta and a last one with the usage, keeping nothing. (Not `model_construct`: on pydantic 2.14
  it inspects every default factory per call and costs a hundred times more.)

Stalls are bounded by the HTTP client's read timeout instead of a per-chunk timer.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage, BaseMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.runnables import RunnableConfig
from langchain_core.tracers.context import _tracing_v2_is_enabled
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from langchain_openai.chat_models.base import (
    _create_usage_metadata,
    _handle_openai_api_error,
    _handle_openai_bad_request,
)
from openai import AsyncStream, not_given
from openai._base_client import make_request_options
from openai._constants import RAW_RESPONSE_HEADER
from openai._response import AsyncResponseContextManager
from openai._streaming_cleanup import drain_response_async
from openai.types.chat import ChatCompletion, ChatCompletionChunk

_DONE = b"[DONE]"
# Arguments of `create` that are request options, not body fields.
_REQUEST_OPTIONS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})


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
    """Mixin: overrides `astream` and `_astream` of a langchain-openai chat model."""

    async def astream(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        model: Any = self
        plain = not (
            (config or {}).get("callbacks")
            or model.callbacks
            or model.verbose
            or model.rate_limiter
            or model.disable_streaming
            or _tracing_v2_is_enabled()
            or set(kwargs) - {"stream_usage"}
            or model.include_response_headers
            or model._uses_gateway
        )
        if not plain:
            async for message in super().astream(input, config, stop=stop, **kwargs):  # type: ignore[misc]
                yield message
            return
        messages = model._convert_input(input).to_messages()
        payload = self._payload(messages, stop, kwargs.get("stream_usage"))
        try:
            async for chunk in self._chunks(payload):
                for choice in chunk.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        yield AIMessageChunk(content=content)
                usage = chunk.get("usage")
                if usage:
                    metadata = _create_usage_metadata(usage, chunk.get("service_tier"))
                    yield AIMessageChunk(content="", usage_metadata=metadata)
        except openai.BadRequestError as e:
            _handle_openai_bad_request(e)
        except openai.APIError as e:
            _handle_openai_api_error(e)

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
            async for generation in super()._astream(  # type: ignore[misc]
                messages, stop, run_manager, stream_usage=stream_usage, **kwargs
            ):
                yield generation
            return
        payload = self._payload(messages, stop, stream_usage, **kwargs)
        chunk_class: type[BaseMessageChunk] = AIMessageChunk
        try:
            async for chunk in self._chunks(payload):
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

    def _payload(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        stream_usage: bool | None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        model: Any = self
        kwargs["stream"] = True
        if model._should_stream_usage(stream_usage, **kwargs):
            kwargs["stream_options"] = {"include_usage": True}
        payload: dict[str, Any] = model._get_request_payload(messages, stop=stop, **kwargs)
        return payload

    async def _chunks(self, payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The decoded chunks of one streamed chat completion, through the SDK's client.

        This is `completions.with_streaming_response.create(**payload)` without the SDK's
        `async_maybe_transform` of the body (~0.4 ms per request): the chat-completion params
        declare no aliases or formats, so it returns the payload unchanged
        (tests/test_fast_path.py checks both).
        """
        model: Any = self
        body = {key: value for key, value in payload.items() if key not in _REQUEST_OPTIONS}
        options = make_request_options(
            extra_headers={**(payload.get("extra_headers") or {}), RAW_RESPONSE_HEADER: "stream"},
            extra_query=payload.get("extra_query"),
            extra_body=payload.get("extra_body"),
            timeout=payload.get("timeout", not_given),
            security={"bearer_auth": True},
        )
        request = model.async_client._post(
            "/chat/completions",
            body=body,
            options=options,
            cast_to=ChatCompletion,
            stream=True,
            stream_cls=AsyncStream[ChatCompletionChunk],
        )
        async with AsyncResponseContextManager(request) as response:
            raw = response.http_response
            async for data in sse_data(raw.aiter_bytes()):
                if data == _DONE:
                    if raw.http_version == "HTTP/1.1":
                        # Read the body to its end, as the SDK does, or the connection is not
                        # reused: every request would pay a new TCP (and TLS) handshake.
                        await drain_response_async(raw)
                    return
                chunk = json.loads(data)
                if isinstance(chunk, dict) and chunk.get("error"):
                    error = chunk["error"]
                    message = error.get("message", "error") if isinstance(error, dict) else error
                    raise openai.APIError(str(message), raw.request, body=error)
                yield chunk


class FastChatOpenAI(FastChunks, ChatOpenAI):
    pass


class FastAzureChatOpenAI(FastChunks, AzureChatOpenAI):
    pass
