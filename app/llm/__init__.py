"""The chat model behind the service, built once per process; routes never know which one it is.

LangChain and the provider SDK take a second or more to import, so the model is built in a
thread after the server starts: liveness answers at once, readiness waits for the model.
"""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from app.config import Settings
from app.errors import AppError, Failure
from app.llm.transport import RowNotWritten, hold_requests_until, model_http_client

if TYPE_CHECKING:
    import httpx2
    from langchain_core.language_models import BaseChatModel

    from app.analyzer.stream import OfflineStream
    from app.llm.entra import EntraTokens

__all__ = [
    "ChatModel",
    "ModelSlot",
    "RowNotWritten",
    "build_chat_model",
    "classify_failure",
    "hold_requests_until",
]

logger = logging.getLogger("app.llm")


@dataclass(frozen=True, slots=True)
class ChatModel:
    model: "BaseChatModel | OfflineStream"
    provider: str
    name: str
    http_client: "httpx2.AsyncClient | None" = None
    # host[:port] of the model endpoint, named in the log line of every failed model request.
    upstream: str | None = None
    tokens: "EntraTokens | None" = None
    # Keyword arguments of the analysis call (`astream`): the structured-output schema.
    answer_options: Mapping[str, Any] = field(default_factory=dict)
    # The synchronous client LangChain also builds (for `invoke`); the service never sends on it.
    sync_http_client: "httpx2.Client | None" = None

    async def aclose(self) -> None:
        try:
            if self.http_client is not None:
                await self.http_client.aclose()
        finally:
            try:
                if self.sync_http_client is not None:
                    self.sync_http_client.close()
            finally:
                if self.tokens is not None:
                    await self.tokens.aclose()


def build_chat_model(settings: Settings) -> ChatModel:
    if settings.llm_provider == "local":
        # Not the LangChain `OfflineAnalyzer`: the same answer in `Piece`s, without importing
        # any of LangChain (app/analyzer/stream.py).
        from app.analyzer.learned_sets import load_models
        from app.analyzer.stream import OfflineStream

        load_models()
        analyzer = OfflineStream()
        return ChatModel(analyzer, "local", analyzer.model_name)

    import httpx2
    import openai
    from langchain_openai import AzureChatOpenAI, ChatOpenAI

    from app.llm.fast_openai import FastAzureChatOpenAI, FastChatOpenAI
    from app.prompt import response_format

    url = (
        settings.openai_base_url or "https://api.openai.com/v1"
        if settings.llm_provider == "openai"
        else settings.azure_openai_endpoint or ""
    )
    # One TLS context for both of the model's clients: left to itself, LangChain's synchronous
    # client loads the trust store again (~20 ms of every worker's start).
    tls = httpx2.create_ssl_context()
    client = model_http_client(
        settings.llm_timeout_seconds, verify=tls, fast=settings.llm_fast_path, url=url
    )
    sync_client = openai.DefaultHttpxClient(
        timeout=httpx2.Timeout(settings.llm_timeout_seconds, connect=10.0), verify=tls
    )
    options = {"response_format": response_format()} if settings.llm_structured_output else {}
    common: dict[str, Any] = {
        "timeout": settings.llm_timeout_seconds,
        "max_retries": settings.llm_max_retries,
        "stream_usage": True,
        "temperature": 0,
        "http_async_client": client,
        "http_client": sync_client,
    }
    if settings.llm_provider == "openai":
        openai_class = FastChatOpenAI if settings.llm_fast_path else ChatOpenAI
        openai_model = openai_class(
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            **common,
        )
        if isinstance(openai_model, FastChatOpenAI):
            openai_model.cap_events(settings.llm_max_event_bytes)
        upstream = _host(url)
        return ChatModel(
            openai_model,
            "openai",
            settings.openai_model,
            client,
            upstream,
            answer_options=options,
            sync_http_client=sync_client,
        )

    tokens = None
    if settings.azure_auth == "entra":
        from app.llm.entra import entra_tokens

        tokens = entra_tokens(settings.azure_client_id)
        common["azure_ad_async_token_provider"] = tokens.token
    else:
        common["api_key"] = settings.azure_openai_api_key
    azure_class = FastAzureChatOpenAI if settings.llm_fast_path else AzureChatOpenAI
    azure_model = azure_class(
        azure_endpoint=settings.azure_openai_endpoint,
        azure_deployment=settings.azure_openai_deployment,
        api_version=settings.openai_api_version,
        **common,
    )
    if isinstance(azure_model, FastAzureChatOpenAI):
        azure_model.cap_events(settings.llm_max_event_bytes)
    upstream = _host(url)
    deployment = settings.azure_openai_deployment
    return ChatModel(
        azure_model, "azure", deployment, client, upstream, tokens, options, sync_client
    )


def _host(url: str) -> str:
    """host[:port] only: never the path, the query or any credentials in the URL."""
    parsed = urlsplit(url)
    host = parsed.hostname or "?"
    return f"{host}:{parsed.port}" if parsed.port else host


def failure_cause(exc: BaseException) -> str:
    """The exception's class and the classes it wraps (`APIConnectionError < ConnectError`).

    Class names only: messages can carry an upstream's answer, and nothing of a request may
    reach the logs.
    """
    names: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(names) < 4:
        if not names or names[-1] != type(current).__name__:
            names.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    if (status := getattr(exc, "status_code", None)) is not None:
        names[0] += f"(HTTP {status})"
    return " < ".join(names)


def classify_failure(exc: BaseException) -> Failure:
    """Map a provider exception to a stable error code and HTTP status."""
    import httpx2
    import openai

    from app.llm.entra import TokenUnavailable
    from app.llm.sse import EventTooLarge

    if isinstance(exc, TokenUnavailable):
        message = "the service could not obtain a token for the model"
        return Failure("upstream_token_unavailable", message, 503, True)
    if isinstance(exc, EventTooLarge):
        return Failure("invalid_model_output", str(exc), 502, False)
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return Failure("upstream_timeout", "the model did not answer in time", 504, True)
    if isinstance(exc, openai.RateLimitError):
        return Failure("upstream_rate_limited", "the model is rate limited", 502, True)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return Failure(
            "upstream_auth", "the service could not authenticate to the model", 502, False
        )
    if isinstance(exc, openai.APIStatusError):
        retryable = exc.status_code >= 500
        message = f"the model answered HTTP {exc.status_code}"
        return Failure("upstream_error", message, 502, retryable)
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return Failure("upstream_unavailable", "the model connection failed", 502, True)
    if isinstance(exc, openai.APIError | ValueError):
        return Failure("upstream_error", "the model sent an invalid response", 502, True)
    return Failure("model_error", "the model failed unexpectedly", 502, True)


class ModelSlot:
    """The process's chat model, being built in the background or ready."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._task: asyncio.Task[ChatModel] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(asyncio.to_thread(build_chat_model, self._settings))
        self._task.add_done_callback(self._report)

    @staticmethod
    def _report(task: "asyncio.Task[ChatModel]") -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            logger.error("the chat model could not be built: %s", task.exception())
        else:
            model = task.result()
            logger.info("chat model ready: provider=%s model=%s", model.provider, model.name)

    @property
    def state(self) -> Literal["ok", "loading", "down"]:
        task = self._task
        if task is None or not task.done():
            return "loading"
        return "down" if task.cancelled() or task.exception() is not None else "ok"

    async def get(self) -> ChatModel:
        assert self._task is not None, "ModelSlot.start() was not called"
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            raise
        except Exception:
            raise AppError(
                503,
                "model_unavailable",
                "the chat model is not configured correctly",
                retryable=False,
            ) from None

    async def aclose(self) -> None:
        if self._task is None:
            return
        if not self._task.done():
            await asyncio.wait((self._task,))
        if not self._task.cancelled() and self._task.exception() is None:
            await self._task.result().aclose()
