"""A minimal HTTP/1.1 keep-alive client for `data: {"token": ...}` Server-Sent Event streams.

An asyncio Protocol with an incremental parser (chunked or Content-Length bodies), so that a
thousand concurrent streams cost the load client far less than the services it measures.
"""

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

TOKEN_PREFIX = b'data: {"token"'
ERROR_PREFIX = b'data: {"error"'
DONE = b"data: [DONE]"


@dataclass(slots=True)
class StreamResult:
    sent_at: float
    status: int = 0
    tokens: list[str] = field(default_factory=list)
    done_last: bool = False
    error: str | None = None
    first_token_at: float | None = None
    finished_at: float | None = None
    closed_at: float | None = None

    @property
    def ttft(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.sent_at

    @property
    def latency(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.sent_at


TokenHook = Callable[["SseConnection", StreamResult], None]


class SseConnection(asyncio.Protocol):
    """One connection; one request at a time; `request()` returns when the response ends."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()
        self._sse = b""
        self._state = "idle"
        self._need = 0
        self._keep_alive = True
        self._result: StreamResult | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._on_token: TokenHook | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> "SseConnection":
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(cls, host, port)
        return protocol

    @property
    def reusable(self) -> bool:
        return not self.closed and self._keep_alive

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._result is not None and self._state != "idle":
            if self._result.closed_at is None and self._result.error is None:
                self._result.error = f"connection lost ({exc or 'eof'}) in {self._state}"
            self._end()

    def close(self) -> None:
        """Leave mid-stream like a browser tab closing (FIN)."""
        if self._result is not None and self._result.closed_at is None:
            self._result.closed_at = time.monotonic()
        if self.transport is not None:
            self.transport.close()

    async def request(
        self, raw: bytes, on_token: TokenHook | None = None, result: StreamResult | None = None
    ) -> StreamResult:
        assert self.transport is not None
        assert self._state == "idle"
        loop = asyncio.get_running_loop()
        self._result = result or StreamResult(sent_at=time.monotonic())
        self._result.sent_at = time.monotonic()
        self._waiter = loop.create_future()
        self._on_token = on_token
        self._state = "head"
        self._sse = b""
        if self.closed:
            self._result.error = "connection closed before the request"
            self._end()
        else:
            self.transport.write(raw)
        await self._waiter
        return self._result

    def _end(self) -> None:
        assert self._result is not None
        if self._result.finished_at is None:
            self._result.finished_at = time.monotonic()
        self._state = "idle"
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        buf = self._buf
        while self._state != "idle":
            if self._state == "head":
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                self._head(bytes(buf[:end]))
                del buf[: end + 4]
            elif self._state == "size":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                self._need = int(bytes(buf[:end]).split(b";", 1)[0], 16)
                del buf[: end + 2]
                self._state = "data" if self._need else "trailer"
            elif self._state == "data":
                if len(buf) < self._need + 2:
                    return
                self._body(bytes(buf[: self._need]))
                del buf[: self._need + 2]
                self._state = "size"
            elif self._state == "trailer":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                del buf[: end + 2]
                if end == 0:
                    self._end()
            else:
                if len(buf) < self._need:
                    return
                self._body(bytes(buf[: self._need]))
                del buf[: self._need]
                self._end()

    def _head(self, head: bytes) -> None:
        assert self._result is not None
        lines = head.split(b"\r\n")
        self._result.status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        self._keep_alive = headers.get(b"connection") != b"close"
        if b"chunked" in headers.get(b"transfer-encoding", b""):
            self._state = "size"
        else:
            self._need = int(headers.get(b"content-length", b"0"))
            self._state = "length"

    def _body(self, data: bytes) -> None:
        result = self._result
        assert result is not None
        if result.status != 200:
            result.error = f"HTTP {result.status}: {data[:300].decode(errors='replace')}"
            return
        self._sse += data
        while (end := self._sse.find(b"\n\n")) >= 0:
            event, self._sse = self._sse[:end], self._sse[end + 2 :]
            self._event(event, result)

    def _event(self, event: bytes, result: StreamResult) -> None:
        if event.startswith(b":"):
            return
        if result.done_last:
            result.done_last = False
            result.error = result.error or "event after [DONE]"
        if event.startswith(TOKEN_PREFIX):
            if result.first_token_at is None:
                result.first_token_at = time.monotonic()
            result.tokens.append(json.loads(event[6:])["token"])
            if self._on_token is not None:
                self._on_token(self, result)
        elif event == DONE:
            result.done_last = True
        elif event.startswith(ERROR_PREFIX):
            result.error = event[6:300].decode(errors="replace")
        else:
            result.error = result.error or f"unexpected event {event[:100]!r}"


def post_request(host: str, port: int, path: str, token: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\nauthorization: Bearer {token}\r\n"
        f"content-type: application/json\r\naccept: text/event-stream\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
