"""The chat model behind the service, built once per process; routes never know which one it is.

LangChain and the provider SDK take a second or more to import, so the model is built in a
thread after the server starts: liveness answers at once, readiness waits for the model.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import httpx2

from app.config import Settings
from app.errors import AppError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger("app.llm")


@dataclass(frozen=True, slots=True)
class ChatModel:
    model: "BaseChatModel"
    provider: str
    name: str
    http_client: httpx2.AsyncClient | None = None

    async def aclose(self) -> None:
        if self.http_client is not None:
            await self.http_client.aclose()


@dataclass(frozen=True, slots=True)
class UpstreamFailure:
    code: str
    message: str
    status_code: int
    retryable: bool


def _http_client(settings: Settings) -> httpx2.AsyncClient:
    # Owned by the app (closed on shutdown) rather than the SDK's process-wide default client;
    # httpx2 is what the openai SDK is built on, so its retries see the errors they expect.
    from app.upstream_transport import upstream_transport

    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=100)
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(settings.llm_timeout_seconds, connect=10.0),
        limits=limits,
        transport=upstream_transport(limits),
    )


def build_chat_model(settings: Settings) -> ChatModel:
    if settings.llm_provider == "local":
        from app.analyzer.chat_model import OfflineAnalyzer
        from app.analyzer.learned import load_all

        load_all()
        analyzer = OfflineAnalyzer()
        return ChatModel(analyzer, "local", analyzer.model_name)

    from langchain_openai import AzureChatOpenAI, ChatOpenAI

    from app.fast_openai import FastAzureChatOpenAI, FastChatOpenAI

    client = _http_client(settings)
    common = {
        "timeout": settings.llm_timeout_seconds,
        "max_retries": settings.llm_max_retries,
        "stream_usage": True,
        "temperature": 0,
        "http_async_client": client,
    }
    if settings.llm_provider == "openai":
        openai_class = FastChatOpenAI if settings.llm_fast_path else ChatOpenAI
        openai_model = openai_class(
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            **common,
        )
        return ChatModel(openai_model, "openai", settings.openai_model, client)

    azure_class = FastAzureChatOpenAI if settings.llm_fast_path else AzureChatOpenAI
    azure_model = azure_class(
        azure_endpoint=settings.azure_openai_endpoint,
        azure_deployment=settings.azure_openai_deployment,
        api_version=settings.openai_api_version,
        api_key=settings.azure_openai_api_key,
        **common,
    )
    return ChatModel(azure_model, "azure", settings.azure_openai_deployment, client)


def classify_failure(exc: BaseException) -> UpstreamFailure:
    """Map a provider exception to a stable error code and HTTP status."""
    import openai

    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return UpstreamFailure("upstream_timeout", "the model did not answer in time", 504, True)
    if isinstance(exc, openai.RateLimitError):
        return UpstreamFailure("upstream_rate_limited", "the model is rate limited", 502, True)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return UpstreamFailure(
            "upstream_auth", "the service could not authenticate to the model", 502, False
        )
    if isinstance(exc, openai.APIStatusError):
        retryable = exc.status_code >= 500
        message = f"the model answered HTTP {exc.status_code}"
        return UpstreamFailure("upstream_error", message, 502, retryable)
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return UpstreamFailure("upstream_unavailable", "the model connection failed", 502, True)
    if isinstance(exc, openai.APIError | ValueError):
        return UpstreamFailure("upstream_error", "the model sent an invalid response", 502, True)
    return UpstreamFailure("model_error", "the model failed unexpectedly", 502, True)


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
