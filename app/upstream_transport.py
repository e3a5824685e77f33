"""The HTTP transport for the model client: httpcore2's, with a cheaper read timeout.

httpcore2 wraps every socket read in `anyio.fail_after`, a cancel scope with a clock lookup and a
timer per read: one read per streamed token. `asyncio.timeout` arms a single loop timer instead.
Connecting, TLS and writes keep anyio's code; a read that times out is still `ReadTimeout`, so the
SDK's retries and our error mapping see exactly what they saw before.
"""

import asyncio
from collections.abc import Iterable

import anyio
import httpcore2
import httpx2
from httpcore2._backends.anyio import AnyIOBackend, AnyIOStream
from httpcore2._backends.base import AsyncNetworkStream
from httpcore2._types import SOCKET_OPTION

_READ_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)


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
    transport = httpx2.AsyncHTTPTransport(limits=limits)
    # The pool builds its connections with this backend; httpx2 has no argument for it.
    transport._pool._network_backend = _Backend()
    return transport
