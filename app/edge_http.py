"""uvicorn's httptools protocol with a bound on the request head: its size and its arrival time.

uvicorn offers neither for httptools (`h11_max_incomplete_event_size` is h11's only), and llhttp
buffers a header of any size, so a client could hold a connection open forever with a partial
head, or grow the worker by sending a 20 MB header. Selected with
`--http app.edge_http:BoundedHttpToolsProtocol`; the limits are `MAX_HEADER_BYTES` and
`HEADER_READ_TIMEOUT_SECONDS`. The body's own deadline is JsonBodyMiddleware's.
"""

import asyncio
import functools
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import load_settings


@functools.cache
def head_limits() -> tuple[int, float]:
    settings = load_settings()
    return settings.max_header_bytes, settings.header_read_timeout_seconds


def _refusal(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message, "retryable": False}}).encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_max_bytes, self.head_timeout = head_limits()
        self.head_bytes = 0
        self.reading_head = True
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Counted before parsing, up to the end of the head when it is in this read: the cap
        # holds for a head that arrives whole as for one that trickles in.
        if self.reading_head:
            end = data.find(b"\r\n\r\n")
            self.head_bytes += len(data) if end < 0 else end + 4
            if self.head_bytes > self.head_max_bytes:
                self.refuse(
                    _refusal(
                        431,
                        "Request Header Fields Too Large",
                        "headers_too_large",
                        f"the request head exceeds {self.head_max_bytes} bytes",
                    )
                )
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.start_head_timer()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_head = True  # whatever comes next is the next request's head

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self.head_bytes = 0
        self.stop_head_timer()
        super().on_headers_complete()

    def start_head_timer(self) -> None:
        self.stop_head_timer()
        self.head_timer = self.loop.call_later(self.head_timeout, self.head_timed_out)

    def stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_timed_out(self) -> None:
        self.head_timer = None
        if self.reading_head and not self.transport.is_closing():
            self.refuse(
                _refusal(
                    408,
                    "Request Timeout",
                    "request_timeout",
                    f"the request head did not arrive within {self.head_timeout:g}s",
                )
            )

    def refuse(self, response: bytes) -> None:
        self.stop_head_timer()
        self.transport.write(response)
        self.transport.close()
