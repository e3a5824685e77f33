"""The stream's guards: disconnects, the deadline, heartbeats, and the drain on shutdown.

`StreamGuard` watches one streaming request: client gone, deadline passed, or a heartbeat due.
One helper task per request, woken only by the client's disconnect or a timer, so the per-token
path pays nothing for it. It stops the request's task with a reason the task can read.

`Drain` is the graceful shutdown: on SIGTERM new requests get 503 and open streams get a drain
budget. uvicorn stops accepting connections and waits for open ones, then cancels what is left
when its graceful-shutdown timeout runs out. Streams that cannot finish within
SHUTDOWN_DRAIN_SECONDS end earlier, on our terms: a retryable `shutting_down` error event,
`[DONE]`, and a `failed` row.
"""

import asyncio
import contextlib
import logging
import signal
import threading
from types import FrameType
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.analyses.sse import PING
from app.errors import Failure, error_response
from app.scope import REQUEST_ID

logger = logging.getLogger("app.drain")

SHUTTING_DOWN = Failure("shutting_down", "the service is shutting down; retry shortly", 503, True)


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
        # Set by RequestIdMiddleware, which runs outside this one.
        request_id = scope.get("state", {}).get(REQUEST_ID)
        headers = {"retry-after": "1", "connection": "close"}
        await error_response(SHUTTING_DOWN, request_id, headers=headers)(scope, receive, send)


StopReason = Literal["disconnect", "stalled", "deadline", "shutdown"]

PING_MESSAGE = {"type": "http.response.body", "body": PING, "more_body": True}

FINAL_SEND_SECONDS = 1.0
"""Bound on the sends after a stop (the error event, the end of the body): the watcher is gone
by then, and a client that cannot take a few bytes in a second is not reading. Once one has
timed out, the rest are skipped, so a stop costs at most this much."""


class StreamGuard:
    def __init__(
        self,
        receive: Receive,
        *,
        max_seconds: float,
        heartbeat_seconds: float,
        send_timeout_seconds: float,
        drain: Drain | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._loop = loop
        self._receive = receive
        self._send: Send | None = None
        self._sending_since: float | None = None
        self._final_timed_out = False
        self._heartbeat = heartbeat_seconds
        self._send_timeout = send_timeout_seconds
        self.deadline = loop.time() + max_seconds
        self.last_sent = loop.time()
        self.reason: StopReason | None = None
        self._drain = drain
        self._draining = False
        self._watcher = loop.create_task(self._watch())

    def attach(self, send: Send) -> None:
        """The response has started: heartbeats may flow from now on."""
        self._send = send
        self.last_sent = self._loop.time()

    async def send(self, body: bytes) -> None:
        """Send a body chunk; the watcher stops a send that stalls past the send timeout."""
        assert self._send is not None
        self._sending_since = self._loop.time()
        try:
            await self._send({"type": "http.response.body", "body": body, "more_body": True})
        finally:
            self._sending_since = None
        self.last_sent = self._loop.time()

    async def send_final(self, body: bytes, *, more_body: bool = True) -> None:
        """A send after the stream stopped, when nothing watches any more: bounded on its own."""
        assert self._send is not None
        if self._final_timed_out:
            return
        message = {"type": "http.response.body", "body": body, "more_body": more_body}
        try:
            async with asyncio.timeout(FINAL_SEND_SECONDS):
                await self._send(message)
        except TimeoutError:
            self._final_timed_out = True

    def owns_cancellation(self) -> bool:
        """True when this guard cancelled the task; the cancellation is then withdrawn."""
        if self.reason is None:
            return False
        self._task.uncancel()
        return True

    async def close(self) -> None:
        if not self._watcher.done():
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    def _stop(self, reason: StopReason) -> None:
        self.reason = reason
        self._task.cancel()

    def _next_wake(self, now: float) -> float:
        """Seconds until the deadline, a stalled send or a heartbeat, whichever comes first."""
        due = self.deadline
        if self._sending_since is not None:
            due = min(due, self._sending_since + self._send_timeout)
        else:
            due = min(due, self.last_sent + self._heartbeat)
        return max(due - now, 0.0)

    async def _watch(self) -> None:
        message: asyncio.Future[Message] = asyncio.ensure_future(self._receive())
        drain = self._drain.started() if self._drain is not None else None
        try:
            while True:
                waits: set[asyncio.Future[Any]] = {message}
                if drain is not None and not self._draining:
                    waits.add(drain)
                await asyncio.wait(
                    waits,
                    timeout=self._next_wake(self._loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if drain is not None and drain.done() and not self._draining:
                    assert self._drain is not None
                    self._draining = True
                    self.deadline = min(self.deadline, self._loop.time() + self._drain.seconds)
                if message.done():
                    if message.result()["type"] == "http.disconnect":
                        self._stop("disconnect")
                        return
                    message = asyncio.ensure_future(self._receive())
                    continue
                now = self._loop.time()
                if now >= self.deadline:
                    self._stop("shutdown" if self._draining else "deadline")
                    return
                sending_since = self._sending_since
                if sending_since is not None:
                    if now - sending_since >= self._send_timeout:
                        self._stop("stalled")
                        return
                elif self._send is None:
                    self.last_sent = now
                elif now - self.last_sent >= self._heartbeat:
                    try:
                        async with asyncio.timeout(self._send_timeout):
                            await self._send(PING_MESSAGE)
                    except TimeoutError:
                        self._stop("stalled")
                        return
                    except Exception:
                        self._stop("disconnect")
                        return
                    self.last_sent = self._loop.time()
        finally:
            message.cancel()
