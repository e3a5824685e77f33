"""The model client's HTTP client: the openai SDK's own default, with a hold on every request.

The hold lets the SDK and LangChain build the model request while the analysis row is being
written, and sends it only once the row is committed; a refused or failed write sends nothing.
It is a request event hook, so the transport stays httpx2's stock one: environment proxies
(`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), TLS settings and anyio's Happy Eyeballs connect
behave as they do for the stock openai client.
"""

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

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
    timeout_seconds: float, *, verify: ssl.SSLContext | bool = True
) -> "httpx2.AsyncClient":
    """Owned by the app (closed on shutdown) rather than the SDK's process-wide default client."""
    import httpx2
    import openai

    return openai.DefaultAsyncHttpxClient(
        timeout=httpx2.Timeout(timeout_seconds, connect=10.0),
        limits=httpx2.Limits(max_connections=None, max_keepalive_connections=100),
        verify=verify,
        event_hooks={"request": [wait_for_row]},
    )
