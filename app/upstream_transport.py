"""The HTTP transport for the model client: httpcore2's, with a cheaper read timeout and a hold.

httpcore2 wraps every socket read in `anyio.fail_after`, a cancel scope with a clock lookup and a
timer per read: one read per streamed token. Here a read only moves a deadline that one timer per
connection checks (plain HTTP; TLS connections keep httpcore2's reads).
Connecting, TLS and writes keep anyio's code; a read that times out is still `ReadTimeout`, so the
SDK's retries and our error mapping see exactly what they saw before.

The hold lets the SDK and LangChain build the model request while the analysis row is being
written, and sends it only once the row is committed; a refused or failed write sends nothing.
"""

import asyncio
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import anyio
import anyio.abc
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
    """Reads with one lazily re-armed timer per connection instead of one timer per read.

    A read only moves the deadline; the timer, when it fires, re-arms itself for the moved
    deadline, or aborts the connection if a read is still waiting past it.
    """

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        super().__init__(stream)
        self._loop = asyncio.get_running_loop()
        self._deadline = math.inf
        self._timer: asyncio.TimerHandle | None = None
        self._timed_out = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        if timeout is not None:
            self._deadline = self._loop.time() + timeout
            if self._timer is None:
                self._timer = self._loop.call_at(self._deadline, self._check_deadline)
        try:
            return await self._stream.receive(max_bytes=max_bytes)
        except anyio.EndOfStream:
            if self._timed_out:
                raise httpcore2.ReadTimeout("no data within the read timeout") from None
            return b""
        except _READ_ERRORS as exc:
            if self._timed_out:
                raise httpcore2.ReadTimeout("no data within the read timeout") from exc
            raise httpcore2.ReadError(exc) from exc
        finally:
            self._deadline = math.inf

    def _check_deadline(self) -> None:
        self._timer = None
        if self._deadline == math.inf:
            return  # not reading: the next read arms a new timer
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._check_deadline)
            return
        self._timed_out = True
        self._stream._transport.abort()  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await super().aclose()


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
