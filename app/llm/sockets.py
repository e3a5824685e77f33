"""The model client's sockets: asyncio protocols under httpcore2, for plain TCP and TLS alike.

httpcore2's anyio streams pay per read, that is per streamed token: an `anyio.fail_after` cancel
scope, an `asyncio.Event` wait, and `resume_reading`/`pause_reading` on the transport (two
epoll changes). Here the transport keeps reading into a small buffer (paused above a high-water
mark), a read takes what is there or waits on one future, and a read only moves a deadline that
one timer per connection checks. Errors keep httpcore2's types (ReadTimeout, ReadError,
ConnectError, ...), so the SDK's retries and our error mapping see what they saw before.
"""

import asyncio
import math
import socket
import ssl
from collections import deque
from collections.abc import Iterable
from typing import Any, cast

import httpcore2
from httpcore2._backends.anyio import AnyIOBackend
from httpcore2._backends.base import AsyncNetworkStream
from httpcore2._types import SOCKET_OPTION

_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.reading_paused = False
        self.eof = False
        self.lost: Exception | None = None
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > _HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> None:
        self.eof = True
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self.drain is None:
            self.drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)
        self.drain = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class _Stream(AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._deadline = math.inf
        self._timer: asyncio.TimerHandle | None = None
        self._timed_out = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        protocol = self._protocol
        if not protocol.chunks:
            if not (protocol.eof or protocol.closed):
                await self._wait_for_data(timeout)
            if not protocol.chunks:
                if self._timed_out:
                    raise httpcore2.ReadTimeout("no data within the read timeout")
                if protocol.lost is not None:
                    raise httpcore2.ReadError(protocol.lost)
                return b""
        chunk = protocol.chunks.popleft()
        if len(chunk) > max_bytes:
            chunk, rest = chunk[:max_bytes], chunk[max_bytes:]
            protocol.chunks.appendleft(rest)
        protocol.buffered -= len(chunk)
        if protocol.reading_paused and protocol.buffered < _LOW_WATER:
            protocol.reading_paused = False
            self._transport.resume_reading()
        return chunk

    async def _wait_for_data(self, timeout: float | None) -> None:  # noqa: ASYNC109
        if timeout is not None:
            self._deadline = self._loop.time() + timeout
            if self._timer is None:
                self._timer = self._loop.call_at(self._deadline, self._check_deadline)
        waiter = self._protocol.waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._protocol.waiter = None
            self._deadline = math.inf

    def _check_deadline(self) -> None:
        self._timer = None
        if self._deadline == math.inf:
            return  # not waiting: the next wait arms a new timer
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._check_deadline)
            return
        self._timed_out = True
        self._transport.abort()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        if self._protocol.closed or self._transport.is_closing():
            raise httpcore2.WriteError("the connection is closed")
        self._transport.write(buffer)
        drain = self._protocol.drain
        if drain is not None:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(drain)
            except TimeoutError as exc:
                raise httpcore2.WriteTimeout(exc) from exc
            if self._protocol.closed:
                raise httpcore2.WriteError("the connection was lost while writing")

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> AsyncNetworkStream:
        try:
            transport = await self._loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError as exc:
            await self.aclose()
            raise httpcore2.ConnectTimeout(exc) from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            await self.aclose()
            raise httpcore2.ConnectError(exc) from exc
        if transport is None:
            raise httpcore2.ConnectError("the TLS handshake did not complete")
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._protocol.transport = transport
        return _Stream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # The transport always reads: data or EOF on an idle connection is already here.
            protocol = self._protocol
            return bool(protocol.chunks) or protocol.eof or protocol.closed
        extra = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }.get(info)
        return self._transport.get_extra_info(extra) if extra else None


class AsyncioBackend(AnyIOBackend):
    """TCP connections on asyncio protocols; Unix sockets and sleeps stay anyio's."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol,
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                )
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(exc) from exc
        except OSError as exc:
            raise httpcore2.ConnectError(exc) from exc
        sock: socket.socket = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in socket_options or ():
            sock.setsockopt(*option)
        return _Stream(transport, protocol)
