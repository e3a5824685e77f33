"""Graceful shutdown: on SIGTERM new requests get 503 and open streams get a drain budget.

uvicorn stops accepting connections and waits for open ones, then cancels what is left when its
graceful-shutdown timeout runs out. Streams that cannot finish within SHUTDOWN_DRAIN_SECONDS end
earlier, on our terms: a retryable `shutting_down` error event, `[DONE]`, and a `failed` row.
"""

import asyncio
import json
import logging
import signal
import threading
from types import FrameType

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import error_body

logger = logging.getLogger("app.drain")

PROBES = ("/health",)


class Drain:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started: asyncio.Future[None] | None = None

    @property
    def active(self) -> bool:
        return self._started is not None and self._started.done()

    def started(self) -> "asyncio.Future[None]":
        """Resolves when the drain begins (shared by every open stream)."""
        if self._started is None:
            self._loop = asyncio.get_running_loop()
            self._started = self._loop.create_future()
        return self._started

    def begin(self) -> None:
        future = self.started()
        if not future.done():
            logger.warning("draining: refusing new requests, open streams get %.0fs", self.seconds)
            future.set_result(None)

    def install_signal_hooks(self) -> None:
        """Chain in front of the server's own SIGTERM/SIGINT handlers (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        self.started()
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)

            def on_signal(
                signum: int, frame: FrameType | None, previous: object = previous
            ) -> None:
                loop.call_soon_threadsafe(self.begin)
                if callable(previous):
                    previous(signum, frame)

            signal.signal(sig, on_signal)


class DrainMiddleware:
    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.drain.active or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        body = json.dumps(
            error_body("shutting_down", "the service is shutting down", request_id, retryable=True)
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", b"1"),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
