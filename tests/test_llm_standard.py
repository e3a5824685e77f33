"""LangChain's standard chat-model suites (langchain-tests) for every chat model the service builds.

The stock `ChatOpenAI` and `AzureChatOpenAI` run as the reference, next to the fast classes, all
against the local OpenAI-compatible test server over real HTTP; the offline analyzer runs as it
is. A test that the stock class fails against the test server too (it has no tools, images or
structured output) is an expected failure for every OpenAI class alike, with the reason.
"""

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest
import pytest_asyncio
from langchain_core.language_models import BaseChatModel
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from app.analyzer.chat_model import OfflineAnalyzer
from app.llm.fast_openai import FastAzureChatOpenAI, FastChatOpenAI
from app.llm.transport import model_http_client
from devtools.openai_server import OpenAIServer

pytestmark = pytest.mark.slow

_server = OpenAIServer()
API_VERSION = "2024-10-21"


# HTTP clients for every model the suites build, closed when they are done (the suites never
# close a model, and an unclosed connection is a ResourceWarning, an error here). The stock
# classes get the stock transport, the fast ones the asyncio sockets, as the service builds them.
_clients: dict[str, dict[str, Any]] = {}


@pytest_asyncio.fixture(scope="module", loop_scope="session", autouse=True)
async def standard_server() -> AsyncIterator[OpenAIServer]:
    with _server:
        sync_client = openai.DefaultHttpxClient()
        for path, fast in (("stock", False), ("fast", True)):
            network = model_http_client(30.0, fast=fast, url=_server.base_url)
            _clients[path] = {"http_client": sync_client, "http_async_client": network}
        try:
            yield _server
        finally:
            sync_client.close()
            for clients in _clients.values():
                await clients["http_async_client"].aclose()
            _clients.clear()


def _params(azure: bool, live: bool = True, fast: bool = False) -> dict[str, Any]:
    """Against the running test server, or (unit suites) an address nothing is sent to."""
    base = _server.base_url if live else "http://127.0.0.1:9/v1"
    clients = _clients["fast" if fast else "stock"] if live else {}
    if azure:
        endpoint = _server.azure_endpoint if live else "http://127.0.0.1:9"
        return {
            "azure_endpoint": endpoint,
            "azure_deployment": "gpt-4o",
            "api_version": API_VERSION,
            "api_key": "x",
            "stream_usage": True,
            **clients,
        }
    return {"model": "gpt-4o", "api_key": "x", "base_url": base, "stream_usage": True, **clients}


def expected_failure(suite: type, name: str, reason: str) -> Callable[..., Any]:
    """`suite`'s test `name`, marked as a strict expected failure (a new class attribute)."""
    test = getattr(suite, name)

    if inspect.iscoroutinefunction(test):

        @functools.wraps(test)
        async def marked(self: Any, *args: Any, **kwargs: Any) -> None:
            await test(self, *args, **kwargs)
    else:

        @functools.wraps(test)
        def marked(self: Any, *args: Any, **kwargs: Any) -> None:
            test(self, *args, **kwargs)

    return pytest.mark.xfail(reason=reason, strict=True)(marked)


# What the test server cannot do; the stock classes fail these exactly as the fast ones do.
NO_TOOLS = "the test server answers every request with scripted text, never a tool call"
NO_SCHEMA = "the test server checks response_format but answers scripted text: no structured output"
SERVER_LIMITS: dict[str, str] = {
    "test_tool_calling": NO_TOOLS,
    "test_tool_calling_async": NO_TOOLS,
    "test_bind_runnables_as_tools": NO_TOOLS,
    "test_tool_choice": NO_TOOLS,
    "test_tool_calling_with_no_arguments": NO_TOOLS,
    "test_agent_loop": NO_TOOLS,
    "test_unicode_tool_call_integration": NO_TOOLS,
    "test_structured_output": NO_SCHEMA,
    "test_structured_output_async": NO_SCHEMA,
    "test_structured_output_pydantic_2_v1": NO_SCHEMA,
    "test_structured_output_optional_param": NO_SCHEMA,
}


def with_server_limits(cls: type) -> type:
    for name, reason in SERVER_LIMITS.items():
        setattr(cls, name, expected_failure(ChatModelIntegrationTests, name, reason))
    return cls


class OpenAIUnit(ChatModelUnitTests):
    azure = False

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return _params(self.azure, live=False)

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        key = "AZURE_OPENAI_API_KEY" if self.azure else "OPENAI_API_KEY"
        params = {k: v for k, v in _params(self.azure, live=False).items() if k != "api_key"}
        return {key: "api_key"}, params, {"openai_api_key": "api_key"}


class OpenAIIntegration(ChatModelIntegrationTests):
    azure = False

    @property
    def chat_model_params(self) -> dict[str, Any]:
        fast = issubclass(self.chat_model_class, FastChatOpenAI | FastAzureChatOpenAI)
        return _params(self.azure, fast=fast)


class TestStockChatOpenAIUnit(OpenAIUnit):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatOpenAI


class TestFastChatOpenAIUnit(OpenAIUnit):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return FastChatOpenAI


class TestStockAzureChatOpenAIUnit(OpenAIUnit):
    azure = True

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return AzureChatOpenAI


class TestFastAzureChatOpenAIUnit(OpenAIUnit):
    azure = True

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return FastAzureChatOpenAI


@with_server_limits
class TestStockChatOpenAIIntegration(OpenAIIntegration):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatOpenAI


@with_server_limits
class TestFastChatOpenAIIntegration(OpenAIIntegration):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return FastChatOpenAI


@with_server_limits
class TestStockAzureChatOpenAIIntegration(OpenAIIntegration):
    azure = True

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return AzureChatOpenAI


@with_server_limits
class TestFastAzureChatOpenAIIntegration(OpenAIIntegration):
    azure = True

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return FastAzureChatOpenAI


class TestOfflineAnalyzerUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return OfflineAnalyzer


class TestOfflineAnalyzerIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return OfflineAnalyzer
