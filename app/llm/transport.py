"""The model client's HTTP client: the openai SDK's default, with a hold on every request.

The hold lets the SDK and LangChain build the model request while the analysis row is being
written, and sends it only once the row is committed; a refused or failed write sends nothing.
It is a request event hook on the client, so it holds whichever transport sends the request.

The transport is httpcore2's connection pool on the asyncio sockets of app/llm/network.py
(`fast=True`, from LLM_FAST_PATH) unless an environment proxy (`HTTPS_PROXY`, `HTTP_PROXY`,
`ALL_PROXY`, less `NO_PROXY`) applies to the model's URL: then, and with `fast=False`, it is
httpx2's stock transport, which routes through the proxy as it does for the stock openai client.
"""

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx2

# httpx2 is imported where the client is built: the offline analyzer never loads it.
_hold: ContextVar["asyncio.Future[Any] | None"] = ContextVar("upstream_hold", default=None)


class RowNotWritten(BaseException):
    """The held request's row was not written, so it is not sent.

    A BaseException, like CancelledError, so that neither the SDK's retry loop nor the
    pipeline's error mapping treat it as a failed model call.
    """


@contextmanager
def hold_requests_until(write: "asyncio.Future[Any]") -> Iterator[None]:
    """Model requests made in this context are sent once `write` has succeeded."""
    token = _hold.set(write)
    try:
        yield
    finally:
        _hold.reset(token)


async def wait_for_row(request: "httpx2.Request") -> None:
    """httpx2 awaits its request hooks before it opens or reuses a connection."""
    write = _hold.get()
    if write is not None:
        try:
            await asyncio.shield(write)
        except Exception:
            raise RowNotWritten from None


def model_http_client(
    timeout_seconds: float,
    *,
    verify: ssl.SSLContext | bool = True,
    fast: bool = False,
    url: str = "",
) -> "httpx2.AsyncClient":
    """Owned by the app (closed on shutdown) rather than the SDK's process-wide default client.

    `fast`: requests to `url` go through app/llm/network.py's sockets, unless a proxy applies.
    """
    import httpx2
    import openai

    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=100)
    transport = None
    if fast and not environment_proxy_applies(url):
        from app.llm.pool import PoolTransport

        # As the stock transport builds it: SSL_CERT_FILE and SSL_CERT_DIR count.
        transport = PoolTransport(httpx2.create_ssl_context(verify=verify), limits)
    return openai.DefaultAsyncHttpxClient(
        timeout=httpx2.Timeout(timeout_seconds, connect=10.0),
        limits=limits,
        verify=verify,
        transport=transport,
        event_hooks={"request": [wait_for_row]},
    )


def environment_proxy_applies(url: str) -> bool:
    """Whether httpx2 would send a request to `url` through a proxy from the environment.

    httpx2 reads the same `urllib.request.getproxies()`. A `NO_PROXY` entry is read as httpx2
    reads it (`example.com` also covers its subdomains, `.example.com` and `*.example.com`
    only them, an address only itself); one this does not understand (a network, a port, a
    URL) counts as not bypassing, so the stock client, which does understand it, decides.
    """
    from urllib.request import getproxies

    parts = urlsplit(url)
    proxies = getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not no_proxy_covers(parts.hostname or "", proxies.get("no", ""))


def no_proxy_covers(host: str, no_proxy: str) -> bool:
    host = host.lower()
    return any(entry_covers(host, raw.strip().lower()) for raw in no_proxy.split(","))


def entry_covers(host: str, entry: str) -> bool:
    if entry == "*":
        return True
    if not entry or "/" in entry or entry.count(":") == 1:
        return False
    if entry == "localhost":
        # httpx2 bypasses exactly `localhost` for this entry, not its subdomains.
        return host == "localhost"
    entry = entry.removeprefix("*")
    if entry.startswith("."):
        return host.endswith(entry) and len(host) > len(entry)
    if host == entry.strip("[]"):
        return True
    is_address = ":" in entry or entry.replace(".", "").isdigit()
    return not is_address and host.endswith(f".{entry}")
