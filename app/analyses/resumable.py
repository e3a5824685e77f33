"""Resumable analyses: the analysis runs in a task of its own and every client is a reader.

`Producer` drives an opened analysis to its end, writing each event to the event log, whoever
is reading. It stops the analysis exactly as a plain stream would when no reader has been
attached for `RESUME_GRACE_SECONDS` (the row is `cancelled`, the model request closed), at the
deadline, or when the service drains.

`LogStream` is one reader: the request that started the analysis, or a reconnect
(`GET /v1/analyses/{id}/stream`). It encodes every entry from the first (the encoders keep
state) and sends those after the id the client already has; its own guard watches its own
client, whose leaving ends only this reader.
"""

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Sequence

from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from app.analyses.guard import SHUTTING_DOWN, StopReason, StreamGuard
from app.analyses.lifecycle import (
    CLIENT_FAILURES,
    DEADLINE,
    INTERRUPTED,
    STOPPED,
    AnalysisLifecycle,
)
from app.analyses.replay import Attachment, Entry, EventLog, Kind, LogUnavailable
from app.analyses.response import INTERNAL
from app.analyses.run import Completed, FindingReady, Token
from app.analyses.sections import RunEvent, SectionProgress
from app.analyses.sse import DONE, SSE_HEADERS, Encoder
from app.errors import Failure
from app.models import Analysis
from app.schemas import (
    AnalysisResult,
    AnalysisStatus,
    ErrorInfo,
    Finding,
    StartEvent,
    StreamMetadata,
)
from app.scope import BODY_SEND

logger = logging.getLogger("app.analyses")

LOG_UNAVAILABLE = Failure(
    "event_log_unavailable", "the analysis's event log is unavailable; retry shortly", 503, True
)
RESUME_DESCRIPTION = """\
Reconnects to an analysis started with `resumable=true`, on any worker or replica: every event
after `Last-Event-ID` (or `after`; from the first event without either), then the live ones until
the end, in the chosen `format` (`events` by default). Event ids are those of the `events` format,
so a resumed stream does not repeat `start`. An analysis whose log has expired is told from its
stored outcome (`result` or `error`, then `[DONE]`); one that is still running but was not started
resumable is a 409.
"""
POLL_SECONDS = 0.25
"""How often the producer looks for readers, the deadline and the drain."""

READER_DEADLINE_MARGIN_SECONDS = 2.0
SHUTDOWN_GRACE_SECONDS = 5.0
"""How long the lifespan's end waits for stopped analyses to write their outcome."""


class Producers:
    """The application's running producers: held so the event loop does not drop their tasks,
    and stopped at the lifespan's end (`shutting_down`) before the engine and the log close."""

    def __init__(self) -> None:
        self._running: dict[Producer, asyncio.Task[None]] = {}

    def start(self, producer: "Producer") -> None:
        task = producer.start()
        self._running[producer] = task
        task.add_done_callback(lambda _: self._running.pop(producer, None))

    async def stop(self) -> None:
        running = dict(self._running)
        for producer in running:
            producer.stop("shutdown")
        if running:
            await asyncio.wait(running.values(), timeout=SHUTDOWN_GRACE_SECONDS)


def error_info(failure: Failure, request_id: str | None) -> ErrorInfo:
    return ErrorInfo(
        code=failure.code,
        message=failure.message,
        request_id=request_id,
        retryable=failure.retryable,
    )


class Producer:
    def __init__(
        self, lifecycle: AnalysisLifecycle, first: RunEvent, log: EventLog, grace: float
    ) -> None:
        self.lifecycle = lifecycle
        self.first = first
        self.log = log
        self.grace = grace
        self.analysis_id = str(lifecycle.analysis_id)
        self.writer = log.writer(self.analysis_id)
        self.reason: StopReason | None = None
        self._task: asyncio.Task[None] | None = None
        self._done = False

    def start(self) -> "asyncio.Task[None]":
        self._task = asyncio.create_task(self._run())
        return self._task

    def stop(self, reason: StopReason) -> None:
        if not self._done and self._task is not None and self.reason is None:
            self.reason = reason
            self._task.cancel()

    async def _run(self) -> None:
        lifecycle, writer = self.lifecycle, self.writer
        ids = itertools.count()

        def add(kind: Kind, value: object) -> None:
            writer.add(Entry(next(ids), kind, value))

        task = asyncio.current_task()
        assert task is not None
        watcher = asyncio.create_task(self._watch())
        failure: Failure | None = None
        try:
            add("start", lifecycle.opening())
            event = self.first
            while True:
                if isinstance(event, Token):
                    add("token", event.text)
                elif isinstance(event, FindingReady):
                    add("finding", (event.index, event.finding))
                elif isinstance(event, SectionProgress):
                    add("section", (event.index, event.total, event.state))
                elif isinstance(event, Completed):
                    add("result", (lifecycle.result(), lifecycle.metadata()))
                    break
                else:
                    failure = event.failure
                    add("error", error_info(failure, lifecycle.request_id))
                    break
                event = await anext(lifecycle.events)
        except asyncio.CancelledError:
            self._done = True
            watcher.cancel()
            if self.reason is None:
                # Not ours: the server is cancelling its tasks.
                try:
                    await lifecycle.close(INTERRUPTED)
                finally:
                    await writer.end()
                raise
            task.uncancel()
            failure = STOPPED[self.reason]
            add("error", error_info(failure, lifecycle.request_id))
        except Exception:
            logger.exception("analysis %s failed mid-stream", self.analysis_id)
            failure = INTERNAL
            add("error", error_info(failure, lifecycle.request_id))
        self._done = True
        watcher.cancel()
        try:
            await lifecycle.close(failure)
        finally:
            # The readers end with the log, whatever became of the row.
            await writer.end()

    async def _watch(self) -> None:
        """Stop the analysis when no reader came back in time, at the deadline, or on a drain."""
        lifecycle = self.lifecycle
        deadline = lifecycle.started + lifecycle.settings.stream_max_seconds
        drain = lifecycle.drain.started()
        draining = False
        seen = time.monotonic()
        reason: StopReason
        while True:
            await asyncio.wait((drain,), timeout=POLL_SECONDS)
            now = time.monotonic()
            if drain.done() and not draining:
                draining = True
                deadline = min(deadline, now + lifecycle.drain.seconds)
            if now >= deadline:
                reason = "shutdown" if draining else "deadline"
                break
            if await self.log.has_readers(self.analysis_id):
                seen = now
            elif now - seen >= self.grace:
                reason = "disconnect"
                break
        self.stop(reason)


def _encode(encoder: Encoder, entry: Entry) -> bytes:
    kind, value = entry.kind, entry.value
    if kind == "token":
        return encoder.token(value)
    if kind == "finding":
        index, finding = value
        return encoder.finding(index, finding)
    if kind == "section":
        index, total, state = value
        return encoder.section(index, total, state)
    if kind == "start":
        return encoder.opening(value)
    if kind == "result":
        result, metadata = value
        return encoder.result(result, metadata)
    return encoder.error(value)


class LogStream(Response):
    """One reader of an analysis's event log, in the chosen format."""

    media_type = "text/event-stream"

    def __init__(
        self,
        analysis_id: str,
        entries: AsyncIterator[Entry],
        encoder: Encoder,
        guard: StreamGuard,
        *,
        after: int | None = None,
        attachment: Attachment | None = None,
        request_id: str | None = None,
    ) -> None:
        headers = {**SSE_HEADERS, **encoder.headers, "x-analysis-id": analysis_id}
        super().__init__(status_code=200, headers=headers, media_type=self.media_type)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.analysis_id = analysis_id
        self.entries = entries
        self.encoder = encoder
        self.guard = guard
        self.after = after
        self.attachment = attachment
        self.request_id = request_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        send = scope.get("state", {}).get(BODY_SEND, send)
        guard, encoder, after = self.guard, self.encoder, self.after
        guard.attach(send)
        ended = False
        try:
            if self.attachment is not None:
                await self.attachment.__aenter__()
            try:
                async for entry in self.entries:
                    data = _encode(encoder, entry)
                    outcome = entry.kind == "result" or entry.kind == "error"
                    if after is None or entry.id > after:
                        if data:
                            await guard.send(data)
                    elif outcome:
                        # The client has the outcome: the end of the stream is all it missed.
                        await guard.send(DONE)
                    ended = ended or outcome
            finally:
                if self.attachment is not None:
                    await self.attachment.__aexit__(None, None, None)
        except asyncio.CancelledError:
            if not guard.owns_cancellation():
                await guard.close()
                raise
            # This reader's client left, stalled or ran out of time: the analysis goes on. A
            # reader stopped by the drain or its deadline may still have a client: it is told
            # why, as a plain stream would be (the producer's own error entry may come later).
            reason = guard.reason
            if not ended and (reason == "shutdown" or reason == "deadline"):
                failure = STOPPED[reason]
                data = encoder.error(error_info(failure, self.request_id))
                if data.startswith(b"id: "):
                    # No id of its own: the log's next id is the analysis's (it may go on
                    # elsewhere), so a reconnect from the last real id still gets the outcome.
                    data = data.split(b"\n", 1)[1]
                await guard.send_final(data)
        except LogUnavailable as exc:
            logger.warning("event log of analysis %s unreadable: %s", self.analysis_id, exc)
            await guard.send_final(encoder.error(error_info(LOG_UNAVAILABLE, self.request_id)))
        finally:
            close = getattr(self.entries, "aclose", None)
            if close is not None:
                await close()
        await guard.close()
        await guard.send_final(b"", more_body=False)


def start_resumable(
    lifecycle: AnalysisLifecycle,
    first: RunEvent,
    *,
    log: EventLog,
    producers: Producers,
    grace: float,
    encoder: Encoder,
) -> LogStream:
    """Run the opened analysis on its own and answer the request as its first reader."""
    guard = lifecycle.hand_off_guard()
    # The analysis's own deadline ends it with an error entry; this reader stays to send it.
    guard.deadline += READER_DEADLINE_MARGIN_SECONDS
    producer = Producer(lifecycle, first, log, grace)
    analysis_id = producer.analysis_id
    producers.start(producer)
    entries = log.follow_local(analysis_id)
    assert entries is not None
    return LogStream(
        analysis_id,
        entries,
        encoder,
        guard,
        attachment=log.attach(analysis_id),
        request_id=lifecycle.request_id,
    )


def stored_entries(row: Analysis, after: int | None) -> Sequence[Entry]:
    """A finished analysis whose log is gone, told from its row: (start, findings,) outcome.

    With `after` only the outcome is sent, numbered right after it.
    """
    analysis_id = row.id
    findings = [Finding.model_validate(f) for f in row.findings or []]
    outcome: Entry
    if row.status == AnalysisStatus.COMPLETED:
        result = AnalysisResult(
            findings=findings,
            summary=row.summary or "",
            processed_at=row.completed_at or row.created_at,
            analysis_id=analysis_id,
        )
        metadata = StreamMetadata(
            analysis_id=analysis_id,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            ttft_ms=row.ttft_ms,
        )
        outcome = Entry(0, "result", (result, metadata))
    else:
        outcome = Entry(0, "error", stored_error(row))
    if after is not None:
        return [Entry(after + 1, outcome.kind, outcome.value)]
    start = StartEvent(
        analysis_id=analysis_id, request_id=row.request_id, provider=row.provider, model=row.model
    )
    entries = [Entry(0, "start", start)]
    entries += [Entry(i + 1, "finding", (i, f)) for i, f in enumerate(findings)]
    entries.append(Entry(len(entries), outcome.kind, outcome.value))
    return entries


def stored_error(row: Analysis) -> ErrorInfo:
    known = {f.code: f for f in (*CLIENT_FAILURES, DEADLINE, INTERRUPTED, SHUTTING_DOWN, INTERNAL)}
    code = row.error_code or "failed"
    failure = known.get(code)
    if failure is None:
        failure = Failure(code, f"the analysis failed ({code})", 502)
    return error_info(failure, row.request_id)


async def entries_of(items: Sequence[Entry]) -> AsyncIterator[Entry]:
    for item in items:
        yield item
