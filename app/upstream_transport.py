"""The HTTP transport for the model client: httpcore2's, with a cheaper read timeout and a hold.

httpcore2 wraps every socket read in `anyio.fail_after`, a cancel scope with a clock lookup and a
timer per read: one read per streamed token. `asyncio.timeout` arms a single loop timer instead.
Connecting, TLS and writes keep anyio's code; a read that times out is still `ReadTimeout`, so the
SDK's retries and our error mapping see exactly what they saw before.

The hold lets the SDK and LangChain build the model request while the analysis row is being
written, and sends it only once the row is committed; a refused or failed write sends nothing.
"""

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import anyio
import httpcore2
import httpx2
from httpcore2._backends.anyio import AnyIOBackend, AnyIOStream
from httpcore2._backends.base import AsyncNetworkStream
from httpcore2._types import SOCKET_OPTION

_READ_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)

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


class _Stream(AnyIOStream):
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                return await self._stream.receive(max_bytes=max_bytes)
        except TimeoutError as exc:
            raise httpcore2.ReadTimeout(exc) from exc
        except anyio.EndOfStream:
            return b""
        except _READ_ERRORS as exc:
            raise httpcore2.ReadError(exc) from exc


class _Backend(AnyIOBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        stream = await super().connect_tcp(host, port, timeout, local_address, socket_options)
        assert isinstance(stream, AnyIOStream)
        return _Stream(stream._stream)


def upstream_transport(limits: httpx2.Limits) -> httpx2.AsyncHTTPTransport:
    transport = _HeldTransport(limits=limits)
    # The pool builds its connections with this backend; httpx2 has no argument for it.
    transport._pool._network_backend = _Backend()
    return transport
