"""A cheaper chunk path for ChatOpenAI and AzureChatOpenAI, on public APIs only.

The stock path has the SDK build a pydantic `ChatCompletionChunk` for every chunk and dump it
back to a dict for langchain-openai, wraps each read in a per-chunk timer, and
`BaseChatModel.astream` keeps every chunk to merge them when the stream ends. Here:

- `_astream` (LangChain's extension point) sends the request with the SDK client's public
  `post` (authentication, base URL, Azure deployment and API version, retries before the first
  byte, error types) and reads the event stream as raw bytes, one JSON decode per chunk. `post`
  is what `chat.completions.create` calls after walking the body through the params' type
  hints, a walk that changes nothing in the body built here and cost about 5 % of the CPU of a
  100-token stream;
- `astream`, with no callbacks, tracing, rate limiter or extra arguments, yields the same
  messages as `BaseChatModel.astream` (ids, response metadata, the last chunk with
  `chunk_position="last"`) without keeping them.

A `response_format` given as a JSON object (structured outputs with a JSON schema, or JSON mode)
is sent as it is: the answer streams as text either way. Whatever this path does not cover
(tools, a pydantic class to parse the answer into, `with_structured_output`, the Responses API,
sampling settings it does not know, `output_version="v1"`, callbacks) goes through the stock
code.
tests/test_llm_fast_path.py compares both paths chunk by chunk and request by request.
"""

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx2
import openai
from langchain_core.callbacks import AsyncCallbackManager, AsyncCallbackManagerForLLMRun
from langchain_core.messages import (
    LC_ID_PREFIX,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from pydantic import PrivateAttr, SecretStr

from app.llm.sse import MAX_EVENT_BYTES, sse_data

if TYPE_CHECKING:
    from langchain_openai.chat_models.base import BaseChatOpenAI

    _Model = BaseChatOpenAI
else:
    _Model = object

_DONE = b"[DONE]"
# Sampling and request settings that the fast path does not send itself: any of them set, and
# the request goes through the stock path, which knows how each one maps to the API.
STOCK_ONLY_SETTINGS = (
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "top_p",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "stop",
    "extra_body",
    "n",
    "reasoning_effort",
    "reasoning",
    "verbosity",
    "context_management",
    "include",
    "prompt_cache_options",
    "service_tier",
    "truncation",
    "store",
)
# `response_format` types whose answer streams as plain content, with nothing to parse.
_PLAIN_FORMATS = ("json_schema", "json_object", "text")
# Models that langchain-openai sends to the Responses API unless told otherwise.
_RESPONSES_MODEL_MARKERS = ("-pro", "-sol", "codex", "gpt-6")


def usage_metadata(usage: Mapping[str, Any], service_tier: str | None) -> UsageMetadata:
    """The OpenAI usage object as LangChain's `UsageMetadata`, as langchain-openai builds it."""
    input_tokens = usage.get("prompt_tokens") or 0
    output_tokens = usage.get("completion_tokens") or 0
    total = usage.get("total_tokens")
    tier = service_tier if service_tier in {"priority", "flex"} else None
    prefix = f"{tier}_" if tier else ""
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    input_details: dict[str, Any] = {
        "audio": prompt_details.get("audio_tokens"),
        f"{prefix}cache_read": prompt_details.get("cached_tokens"),
        f"{prefix}cache_creation": prompt_details.get("cache_write_tokens"),
    }
    output_details: dict[str, Any] = {
        "audio": completion_details.get("audio_tokens"),
        f"{prefix}reasoning": completion_details.get("reasoning_tokens"),
    }
    if tier is not None:
        input_details[tier] = input_tokens - (input_details.get(f"{prefix}cache_read") or 0)
        output_details[tier] = output_tokens - (output_details.get(f"{prefix}reasoning") or 0)
    return UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total if total is not None else input_tokens + output_tokens,
        input_token_details=InputTokenDetails(
            **{k: v for k, v in input_details.items() if v is not None}  # type: ignore[typeddict-item]
        ),
        output_token_details=OutputTokenDetails(
            **{k: v for k, v in output_details.items() if v is not None}  # type: ignore[typeddict-item]
        ),
    )


def message_chunk(
    chunk: Mapping[str, Any],
) -> tuple[AIMessageChunk, dict[str, Any] | None] | None:
    """One chat-completion chunk as the assistant's message chunk and its generation info.

    None: the chunk carries nothing. Only the fields that are set are passed: each one costs a
    validation per token.
    """
    usage = chunk.get("usage")
    metadata = usage_metadata(usage, chunk.get("service_tier")) if usage else None
    choices = chunk.get("choices") or ()
    if not choices:
        return AIMessageChunk(content="", usage_metadata=metadata), None
    choice = choices[0]
    delta = choice.get("delta")
    if delta is None:
        return None
    fields: dict[str, Any] = {
        "content": delta.get("content") or "",
        "response_metadata": {"model_provider": "openai"},
    }
    if delta.get("function_call"):
        call = dict(delta["function_call"])
        if "name" in call and call["name"] is None:
            call["name"] = ""
        fields["additional_kwargs"] = {"function_call": call}
    if delta.get("tool_calls"):
        with contextlib.suppress(KeyError):
            fields["tool_call_chunks"] = [
                tool_call_chunk(
                    name=call["function"].get("name"),
                    args=call["function"].get("arguments"),
                    id=call.get("id"),
                    index=call["index"],
                )
                for call in delta["tool_calls"]
            ]
    if delta.get("id") is not None:
        fields["id"] = delta["id"]
    if metadata:
        fields["usage_metadata"] = metadata
    info: dict[str, Any] = {}
    if finish_reason := choice.get("finish_reason"):
        info["finish_reason"] = finish_reason
        for key, name in (
            ("model", "model_name"),
            ("system_fingerprint", "system_fingerprint"),
            ("service_tier", "service_tier"),
        ):
            if value := chunk.get(key):
                info[name] = value
    if logprobs := choice.get("logprobs"):
        info["logprobs"] = logprobs
    return AIMessageChunk(**fields), info or None


class FastChunks(_Model):
    """Mixin: overrides `astream` and `_astream` of a langchain-openai chat model."""

    _max_event_bytes: int

    @property
    def max_event_bytes(self) -> int:
        """The cap on one event of the model's stream (LLM_MAX_EVENT_BYTES)."""
        return self._max_event_bytes

    def cap_events(self, max_bytes: int) -> None:
        self._max_event_bytes = max_bytes

    @classmethod
    def lc_id(cls) -> list[str]:
        # Serialised as the stock class it stands in for: langchain-core's `load` accepts only
        # the classes on its allowlist, and the two send and answer alike.
        stock = next(base for base in cls.__mro__ if base.__module__.startswith("langchain_"))
        return stock.lc_id()  # type: ignore[attr-defined, no-any-return]

    def fast_path_applies(self, messages: list[BaseMessage], kwargs: Mapping[str, Any]) -> bool:
        """Whether this request is one the fast path sends exactly as the stock path would."""
        name = (self.model_name or "").lower()
        key = self.openai_api_key
        response_format = kwargs.get("response_format")
        return not (
            set(kwargs) - {"stream_usage", "response_format"}
            or not (
                response_format is None
                or (
                    isinstance(response_format, dict)
                    and response_format.get("type") in _PLAIN_FORMATS
                )
            )
            or self.model_kwargs
            or self.include_response_headers
            or self.use_responses_api
            or self.use_previous_response_id
            or self.output_version == "responses/v1"
            or any(
                getattr(self, setting, None) not in (None, []) for setting in STOCK_ONLY_SETTINGS
            )
            or (self.use_responses_api is None and any(m in name for m in _RESPONSES_MODEL_MARKERS))
            # o-series models take the system prompt as a "developer" message.
            or (len(name) > 1 and name[0] == "o" and name[1].isdigit())
            # A LangSmith key routes through its gateway, which answers with extra metadata.
            or (isinstance(key, SecretStr) and key.get_secret_value().startswith("lsv2_"))
            or not all(
                isinstance(m, SystemMessage | HumanMessage) and isinstance(m.content, str)
                for m in messages
            )
        )

    def payload(
        self,
        messages: list[BaseMessage],
        stream_usage: bool | None,
        response_format: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The request body, for requests where `fast_path_applies`."""
        body: dict[str, Any] = {"model": self.model_name, "stream": True}
        if response_format is not None:
            body["response_format"] = response_format
        if self.max_tokens is not None:
            # Both classes send it under its current name.
            body["max_completion_tokens"] = self.max_tokens
        if self.temperature is not None:
            body["temperature"] = self.temperature
        usage = stream_usage if isinstance(stream_usage, bool) else self.stream_usage
        if usage:
            body["stream_options"] = {"include_usage": True}
        body["messages"] = [
            {"role": "system" if isinstance(m, SystemMessage) else "user", "content": m.content}
            for m in messages
        ]
        return body

    async def chunks(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The decoded chunks of one streamed chat completion, through the SDK's client."""
        response = await self.root_async_client.post(
            "/chat/completions",
            body=body,
            cast_to=httpx2.Response,
            # The security `chat.completions.create` asks for: the API key, no admin key.
            options={"security": {"bearer_auth": True}},
            stream=True,
            # Required by the signature; an `httpx2.Response` is returned as it is.
            stream_cls=openai.AsyncStream[Any],
        )
        try:
            stream = aiter(response.aiter_bytes())
            async for data in sse_data(stream, self.max_event_bytes):
                if data == _DONE:
                    # Read the body to its end, as the SDK does, or the connection is not
                    # reused: every request would pay a new TCP (and TLS) handshake.
                    async for _ in stream:
                        pass
                    return
                chunk = json.loads(data)
                if isinstance(chunk, dict) and chunk.get("error"):
                    error = chunk["error"]
                    message = error.get("message", "error") if isinstance(error, dict) else error
                    raise openai.APIError(str(message), response.request, body=error)
                yield chunk
        finally:
            await response.aclose()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        *,
        stream_usage: bool | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        if stop is not None or not self.fast_path_applies(messages, kwargs):
            async for stock in super()._astream(
                messages, stop, run_manager, stream_usage=stream_usage, **kwargs
            ):
                yield stock
            return
        v1 = self.output_version == "v1"
        body = self.payload(messages, stream_usage, kwargs.get("response_format"))
        async for chunk in self.chunks(body):
            converted = message_chunk(chunk)
            if converted is None:
                continue
            generation = ChatGenerationChunk(message=converted[0], generation_info=converted[1])
            if v1:
                generation.message.response_metadata["output_version"] = "v1"
            if run_manager:
                logprobs = (generation.generation_info or {}).get("logprobs")
                await run_manager.on_llm_new_token(
                    generation.text, chunk=generation, logprobs=logprobs
                )
            yield generation

    async def astream(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        config = ensure_config(config)
        # The service's prompts are (role, text) pairs (app/prompt.py), as LangChain takes them.
        messages = convert_to_messages(input) if isinstance(input, list | tuple) else []
        callbacks = AsyncCallbackManager.configure(
            config.get("callbacks"), self.callbacks, self.verbose, config.get("tags"), self.tags
        )
        if (
            callbacks.handlers
            or stop is not None
            or self.rate_limiter is not None
            or self.disable_streaming
            or self.output_version == "v1"
            or not messages
            or not self.fast_path_applies(messages, kwargs)
        ):
            async for message in super().astream(input, config, stop=stop, **kwargs):
                yield message
            return
        run_id = f"{LC_ID_PREFIX}-{uuid.uuid4()}"
        last: AIMessageChunk | None = None
        body = self.payload(messages, kwargs.get("stream_usage"), kwargs.get("response_format"))
        async for chunk in self.chunks(body):
            converted = message_chunk(chunk)
            if converted is None:
                continue
            message, info = converted
            if message.id is None:
                message.id = run_id
            if info:
                message.response_metadata = {**info, **message.response_metadata}
            last = message
            yield message
        if last is None:
            raise ValueError("No generation chunks were returned")
        yield AIMessageChunk(content="", chunk_position="last", id=run_id)


class FastChatOpenAI(FastChunks, ChatOpenAI):
    _max_event_bytes: int = PrivateAttr(default=MAX_EVENT_BYTES)


class FastAzureChatOpenAI(FastChunks, AzureChatOpenAI):
    _max_event_bytes: int = PrivateAttr(default=MAX_EVENT_BYTES)
