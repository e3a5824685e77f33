"""httpcore2's network backend on asyncio protocols: the model client's sockets, on public APIs.

httpcore2's default backend reads through anyio: per read, that is per streamed token, a cancel
scope for the timeout, an event wait, and a pause/resume of the transport's reading (two epoll
changes on uvloop). Here the transport keeps reading into the protocol's buffer (paused only
above a high-water mark); a read takes what is there or waits on one future, and a read timeout
only moves a deadline that one timer per connection checks. It implements httpcore2's public
`AsyncNetworkBackend` and `AsyncNetworkStream` and raises httpcore2's public exceptions
(ConnectError, ConnectTimeout, ReadTimeout, ReadError, WriteTimeout, WriteError), so the pool,
the SDK's retries and the service's error mapping see what they see with the stock backend.

Connecting resolves the name and races the addresses as RFC 8305's Happy Eyeballs does, as
anyio does for the stock backend (uvloop's `create_connection` has no `happy_eyeballs_delay`).

On by default (LLM_FAST_PATH) because an interleaved A/B of `make bench` measured it beyond the
noise: 13-32 % less CPU per token on paced streams than httpx2's stock transport, in every one
of six rounds (two runs) on both databases, and no change at saturation (docs/performance.md, "The model
client's own sockets"). `python -m bench.network_reads` compares the read path alone.
"""

import asyncio
import ipaddress
import math
import socket
import ssl
from collections.abc import Iterable
from typing import Any, cast

import httpcore2

HAPPY_EYEBALLS_DELAY = 0.25
_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024

_Address = tuple[Any, ...]


class _Buffer(asyncio.Protocol):
    """What the transport has read and not yet been asked for, and one reader's waiter."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.reading_paused = False
        self.eof = False
        self.lost = False
        self.error: Exception | None = None
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
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> None:
        self.eof = True
        self.wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        self.wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self.drain is None:
            self.drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)
        self.drain = None

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        chunks = self.chunks
        if len(chunks) == 1 and len(chunks[0]) <= max_bytes:
            data = chunks.pop()
        else:
            data = b"".join(chunks)
            chunks.clear()
            if len(data) > max_bytes:
                chunks.append(data[max_bytes:])
                data = data[:max_bytes]
        self.buffered -= len(data)
        if self.reading_paused and self.buffered < _LOW_WATER and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return data


class AsyncioStream(httpcore2.AsyncNetworkStream):
    """One connection: reads from the protocol's buffer, writes to the transport."""

    def __init__(self, transport: asyncio.Transport, protocol: _Buffer) -> None:
        self.transport = transport
        self.protocol = protocol
        self.loop = asyncio.get_running_loop()
        self.deadline = math.inf
        self.timer: asyncio.TimerHandle | None = None
        self.timed_out = False
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        protocol = self.protocol
        if not protocol.chunks:
            if self.closed:
                raise httpcore2.ReadError("the connection is closed")
            # Only this read's own wait may report a timeout: a deadline that fired in the same
            # loop pass as the data that ended the previous wait leaves the flag set.
            self.timed_out = False
            if not (protocol.eof or protocol.lost):
                await self.wait_for_data(timeout)
            if not protocol.chunks:
                if self.timed_out:
                    raise httpcore2.ReadTimeout("no data within the read timeout")
                if protocol.error is not None:
                    raise httpcore2.ReadError(protocol.error)
                return b""
        return protocol.take(max_bytes)

    async def wait_for_data(self, timeout: float | None) -> None:  # noqa: ASYNC109
        loop = self.loop
        self.timed_out = False
        if timeout is not None:
            self.deadline = loop.time() + timeout
            # One timer per connection, re-armed when it fires early: a wait moves the deadline
            # without touching the loop's timer heap, unless it is nearer than the timer.
            timer = self.timer
            if timer is None or timer.when() > self.deadline:
                if timer is not None:
                    timer.cancel()
                self.timer = loop.call_at(self.deadline, self.check_deadline)
        waiter = self.protocol.waiter = loop.create_future()
        try:
            await waiter
        finally:
            self.protocol.waiter = None
            self.deadline = math.inf

    def check_deadline(self) -> None:
        self.timer = None
        deadline = self.deadline
        if deadline == math.inf:
            return  # not waiting: the next wait arms a new timer
        if self.loop.time() < deadline:
            self.timer = self.loop.call_at(deadline, self.check_deadline)
            return
        self.timed_out = True
        self.protocol.wake()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        protocol = self.protocol
        if self.closed or protocol.lost or self.transport.is_closing():
            raise httpcore2.WriteError("the connection is closed")
        self.transport.write(buffer)
        drain = protocol.drain
        if drain is not None:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(drain)
            except TimeoutError as exc:
                raise httpcore2.WriteTimeout("the write did not complete in time") from exc
            if protocol.lost:
                raise httpcore2.WriteError("the connection was lost while writing")

    async def aclose(self) -> None:
        self.closed = True
        self.cancel_timer()
        self.transport.close()

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore2.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                transport = await self.loop.start_tls(
                    self.transport, self.protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            await self.aclose()
            raise httpcore2.ConnectTimeout("the TLS handshake did not complete in time") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            await self.aclose()
            raise httpcore2.ConnectError(exc) from exc
        except BaseException:
            await self.aclose()
            raise
        if transport is None:
            await self.aclose()
            raise httpcore2.ConnectError("the TLS handshake did not complete")
        self.cancel_timer()
        self.protocol.transport = transport
        return AsyncioStream(transport, self.protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # The transport always reads: data or EOF on an idle connection is already here.
            protocol = self.protocol
            return bool(protocol.chunks) or protocol.eof or protocol.lost
        name = _EXTRA_INFO.get(info)
        return None if name is None else self.transport.get_extra_info(name)


_EXTRA_INFO = {
    "ssl_object": "ssl_object",
    "client_addr": "sockname",
    "server_addr": "peername",
    "socket": "socket",
}


class AsyncioBackend(httpcore2.AsyncNetworkBackend):
    """TCP and Unix connections on the running asyncio loop (uvloop's or the standard one)."""

    def __init__(self, happy_eyeballs_delay: float = HAPPY_EYEBALLS_DELAY) -> None:
        self.happy_eyeballs_delay = happy_eyeballs_delay

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        options = list(socket_options or ())
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve(host, port, local_address)
                sock = await happy_eyeballs(
                    addresses, local_address, options, self.happy_eyeballs_delay
                )
                try:
                    transport, protocol = await loop.create_connection(_Buffer, sock=sock)
                except BaseException:
                    sock.close()
                    raise
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"no connection to {host}:{port} in time") from exc
        except OSError as exc:
            raise httpcore2.ConnectError(exc) from exc
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            for option in socket_options or ():
                sock.setsockopt(*option)
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, path)
                transport, protocol = await loop.create_unix_connection(_Buffer, sock=sock)
        except TimeoutError as exc:
            sock.close()
            raise httpcore2.ConnectTimeout(f"no connection to {path} in time") from exc
        except OSError as exc:
            sock.close()
            raise httpcore2.ConnectError(exc) from exc
        except BaseException:
            sock.close()
            raise
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def resolve(host: str, port: int, local_address: str | None) -> list[_Address]:
    """The addresses to try, alternating families as RFC 8305 orders them."""
    family = socket.AF_UNSPEC
    if local_address:
        family = socket.AF_INET6 if ":" in local_address else socket.AF_INET
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        # No resolver round trip (a thread hop) for an address.
        literal_family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
        return [(literal_family, (host, port))]
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    if not infos:
        raise OSError(f"{host} has no address")
    first: list[_Address] = []
    second: list[_Address] = []
    for info in infos:
        (first if info[0] == infos[0][0] else second).append((info[0], info[4]))
    ordered: list[_Address] = []
    for pair in zip(first, second, strict=False):
        ordered.extend(pair)
    shorter = min(len(first), len(second))
    ordered.extend(first[shorter:] + second[shorter:])
    return ordered


async def happy_eyeballs(
    addresses: list[_Address],
    local_address: str | None,
    options: list[httpcore2.SOCKET_OPTION],
    delay: float,
) -> socket.socket:
    """A connected socket to the first address that answers.

    The next address is tried when the one before has failed, or has not answered within
    `delay`; the first to connect wins and the others are cancelled.
    """
    if len(addresses) == 1:
        return await connect_one(addresses[0], local_address, options)
    errors: list[OSError] = []
    pending: set[asyncio.Task[socket.socket]] = set()
    remaining = list(addresses)
    winner: socket.socket | None = None
    try:
        while winner is None and (remaining or pending):
            if remaining:
                address = remaining.pop(0)
                pending.add(asyncio.create_task(connect_one(address, local_address, options)))
            done, pending = await asyncio.wait(
                pending,
                timeout=delay if remaining else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                error = task.exception()
                if error is None:
                    if winner is None:
                        winner = task.result()
                    else:
                        task.result().close()
                elif isinstance(error, OSError):
                    errors.append(error)
                else:
                    raise error
    except BaseException:
        # Cancelled by the connect timeout, or an unexpected error: no connected socket leaks.
        if winner is not None:
            winner.close()
        raise
    finally:
        for task in pending:
            task.cancel()
        if pending:
            try:
                for task in (await asyncio.wait(pending))[0]:
                    if not task.cancelled() and task.exception() is None:
                        task.result().close()
            except BaseException:
                if winner is not None:
                    winner.close()
                raise
    if winner is None:
        if len(errors) == 1:
            raise errors[0]
        raise OSError(f"all connection attempts failed: {'; '.join(map(str, errors))}")
    return winner


async def connect_one(
    address: _Address, local_address: str | None, options: list[httpcore2.SOCKET_OPTION]
) -> socket.socket:
    family, sockaddr = address
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in options:
            sock.setsockopt(*option)
        if local_address:
            sock.bind((local_address, 0))
        await asyncio.get_running_loop().sock_connect(sock, sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock
