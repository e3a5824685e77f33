"""The HTTP transport for the model client: httpcore2's pool on our asyncio sockets, with a hold.

The hold lets the SDK and LangChain build the model request while the analysis row is being
written, and sends it only once the row is committed; a refused or failed write sends nothing.
"""

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx2

from app.llm.sockets import AsyncioBackend

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


class _HeldTransport(httpx2.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        write = _hold.get()
        if write is not None:
            try:
                await asyncio.shield(write)
            except Exception:
                raise RowNotWritten from None
        return await super().handle_async_request(request)


def upstream_transport(
    limits: httpx2.Limits, verify: ssl.SSLContext | bool = True
) -> httpx2.AsyncHTTPTransport:
    transport = _HeldTransport(limits=limits, verify=verify)
    # The pool builds its connections with this backend; httpx2 has no argument for it.
    transport._pool._network_backend = AsyncioBackend()
    return transport
