"""Watches one streaming request: client gone, deadline passed, or a heartbeat due.

One helper task per request, woken only by the client's disconnect or a timer, so the per-token
path pays nothing for it. It stops the request's task with a reason the task can read.
"""

import asyncio
import contextlib
from typing import Any, Literal

from starlette.types import Message, Receive, Send

from app.drain import Drain
from app.sse import PING

StopReason = Literal["disconnect", "deadline", "shutdown"]


class StreamGuard:
    def __init__(
        self,
        receive: Receive,
        *,
        max_seconds: float,
        heartbeat_seconds: float,
        drain: Drain | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._loop = loop
        self._receive = receive
        self._send: Send | None = None
        self._sending = False
        self._heartbeat = heartbeat_seconds
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
        assert self._send is not None
        self._sending = True
        try:
            await self._send({"type": "http.response.body", "body": body, "more_body": True})
        finally:
            self._sending = False
        self.last_sent = self._loop.time()

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

    async def _watch(self) -> None:
        message: asyncio.Future[Message] = asyncio.ensure_future(self._receive())
        drain = self._drain.started() if self._drain is not None else None
        try:
            while True:
                waits: set[asyncio.Future[Any]] = {message}
                if drain is not None and not self._draining:
                    waits.add(drain)
                now = self._loop.time()
                wake = min(self.deadline, self.last_sent + self._heartbeat) - now
                await asyncio.wait(
                    waits, timeout=max(wake, 0.0), return_when=asyncio.FIRST_COMPLETED
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
                if (
                    self._send is not None
                    and not self._sending
                    and now - self.last_sent >= self._heartbeat
                ):
                    try:
                        await self.send(PING)
                    except Exception:
                        self._stop("disconnect")
                        return
                elif self._send is None:
                    self.last_sent = now
        finally:
            message.cancel()
