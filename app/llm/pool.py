"""An httpx2 transport over httpcore2's connection pool on the asyncio network backend.

What httpx2's own `AsyncHTTPTransport` does for a pool without a proxy, on public names only:
the pool is built with `network_backend=` (an argument httpx2's transport does not offer), the
request and response are mapped field by field, and httpcore2's exceptions become httpx2's.
"""

import ssl
from collections.abc import AsyncIterable, AsyncIterator

import httpcore2
import httpx2

from app.llm.network import AsyncioBackend

# Most specific first: a class is mapped by the first entry it is an instance of.
_ERRORS: tuple[tuple[type[Exception], type[httpx2.HTTPError]], ...] = (
    (httpcore2.ConnectTimeout, httpx2.ConnectTimeout),
    (httpcore2.ReadTimeout, httpx2.ReadTimeout),
    (httpcore2.WriteTimeout, httpx2.WriteTimeout),
    (httpcore2.PoolTimeout, httpx2.PoolTimeout),
    (httpcore2.TimeoutException, httpx2.TimeoutException),
    (httpcore2.ConnectError, httpx2.ConnectError),
    (httpcore2.ReadError, httpx2.ReadError),
    (httpcore2.WriteError, httpx2.WriteError),
    (httpcore2.NetworkError, httpx2.NetworkError),
    (httpcore2.ProxyError, httpx2.ProxyError),
    (httpcore2.UnsupportedProtocol, httpx2.UnsupportedProtocol),
    (httpcore2.LocalProtocolError, httpx2.LocalProtocolError),
    (httpcore2.RemoteProtocolError, httpx2.RemoteProtocolError),
    (httpcore2.ProtocolError, httpx2.ProtocolError),
)


def httpx_error(exc: Exception) -> Exception:
    """httpx2's counterpart of an httpcore2 exception (the exception itself if it has none)."""
    for source, target in _ERRORS:
        if isinstance(exc, source):
            return target(str(exc))
    return exc


class _ResponseStream(httpx2.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self.stream:
                yield part
        except Exception as exc:
            mapped = httpx_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        close = getattr(self.stream, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception as exc:
                mapped = httpx_error(exc)
                if mapped is exc:
                    raise
                raise mapped from exc


class PoolTransport(httpx2.AsyncBaseTransport):
    """httpcore2's `AsyncConnectionPool` on `AsyncioBackend`, HTTP/1.1, no proxy."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx2.Limits) -> None:
        self.pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        assert isinstance(request.stream, httpx2.AsyncByteStream)
        url = request.url
        core_request = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self.pool.handle_async_request(core_request)
        except Exception as exc:
            mapped = httpx_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        assert isinstance(response.stream, AsyncIterable)
        return httpx2.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()
