"""One analysis from its row to its final write, the same for every route that runs one.

- `open()` writes the row, calls the model and waits for the first event; every refusal before
  that first event is raised here as an `AppError` (the row's own 429/503, a model failure, the
  first-token timeout, the deadline, a shutdown).
- `stopped()` is the one mapping from a cancellation of the request to the analysis's outcome.
- `close()` closes the model request, records metrics and the access-log fields, and writes the
  outcome; the write survives a second cancellation.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Receive

from app import telemetry
from app.analyses.guard import SHUTTING_DOWN, Drain, StopReason, StreamGuard
from app.analyses.repository import Limits, Outcome, finish_analysis, start_analysis
from app.analyses.run import AnalysisRun, Failed, aclose
from app.analyses.sections import RunEvent, SectionedRun, split_sections
from app.config import Settings
from app.errors import AppError, Failure
from app.llm import ChatModel, RowNotWritten, hold_requests_until
from app.metrics import Metrics
from app.models import utcnow
from app.prompt import build_messages
from app.schemas import (
    AnalyseRequest,
    AnalysisResult,
    AnalysisStatus,
    StartEvent,
    StreamMetadata,
    TokenPayload,
)
from app.scope import ANALYSIS_LOG

CLIENT_GONE = Failure("client_disconnected", "the client went away", 499)
CLIENT_STALLED = Failure("client_stalled", "the client stopped reading the stream", 499)
CLIENT_FAILURES = (CLIENT_GONE, CLIENT_STALLED)
"""Nobody is left to tell: no error event, and the analysis is `cancelled`, not `failed`."""
DEADLINE = Failure("deadline_exceeded", "the analysis exceeded the maximum stream time", 504, True)
INTERRUPTED = Failure("interrupted", "the analysis was interrupted", 503, True)

STOPPED: dict[StopReason, Failure] = {
    "disconnect": CLIENT_GONE,
    "stalled": CLIENT_STALLED,
    "deadline": DEADLINE,
    "shutdown": SHUTTING_DOWN,
}

UPSTREAM_CODES = frozenset(
    {
        "upstream_error",
        "upstream_unavailable",
        "upstream_timeout",
        "upstream_rate_limited",
        "upstream_auth",
        "upstream_token_unavailable",
        "model_error",
        "invalid_model_output",
    }
)

# Final writes run as tasks of their own, so a cancelled request cannot cut one short; held
# here so the event loop does not drop them.
_background: set[asyncio.Task[None]] = set()


class AnalysisLifecycle:
    run: AnalysisRun | SectionedRun
    events: AsyncIterator[RunEvent]

    def __init__(
        self,
        *,
        body: AnalyseRequest,
        user: TokenPayload,
        chat: ChatModel,
        settings: Settings,
        engine: AsyncEngine,
        metrics: Metrics,
        drain: Drain,
        receive: Receive,
        request_state: dict[str, Any],
        request_id: str | None,
    ) -> None:
        self.body = body
        self.user = user
        self.chat = chat
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.drain = drain
        self.receive = receive
        self.request_state = request_state
        self.request_id = request_id
        self.started = time.monotonic()
        self._write: asyncio.Future[uuid.UUID] | None = None
        self._guard: StreamGuard | None = None
        self._active = False
        self._closed = False

    @property
    def analysis_id(self) -> uuid.UUID:
        assert self._write is not None
        return self._write.result()

    @property
    def guard(self) -> StreamGuard:
        assert self._guard is not None
        return self._guard

    def opening(self) -> StartEvent:
        return StartEvent(
            analysis_id=self.analysis_id,
            request_id=self.request_id,
            provider=self.chat.provider,
            model=self.chat.name,
        )

    def result(self) -> AnalysisResult:
        draft = self.run.draft
        assert draft is not None
        return AnalysisResult(
            findings=draft.findings,
            summary=draft.summary,
            processed_at=utcnow(),
            analysis_id=self.analysis_id,
        )

    def metadata(self) -> StreamMetadata:
        """Token usage and time to first token so far, for the stream's closing event."""
        run = self.run
        ttft = run.first_token_at - self.started if run.first_token_at else None
        return StreamMetadata(
            analysis_id=self.analysis_id,
            prompt_tokens=run.prompt_tokens,
            completion_tokens=run.completion_tokens,
            ttft_ms=round(ttft * 1000) if ttft is not None else None,
        )

    async def open(self) -> RunEvent | None:
        """Write the row, call the model and return its first event (None: the client left).

        The row is written while the model request is built, and the request is sent once the
        row is committed, so a refused start never reaches the model.
        """
        settings = self.settings
        write = telemetry.task(
            "analysis.start",
            start_analysis(
                self.engine,
                user=self.user,
                body=self.body,
                provider=self.chat.provider,
                model=self.chat.name,
                request_id=self.request_id,
                store_content=settings.store_document_content,
                limits=Limits(
                    settings.org_max_concurrent_streams,
                    settings.user_requests_per_minute,
                    settings.stream_max_seconds,
                ),
            ),
        )
        self._write = write
        if self.chat.http_client is None:
            # An in-process model cannot be held back: the row comes first.
            await write
        else:
            # Measured: starting the write before the request is built saves about a
            # millisecond of time to first token; the hold below keeps the order safe.
            await asyncio.sleep(0)
        body, user = self.body, self.user
        limit = settings.section_chars
        if limit and len(body.content) > limit:
            self.run = SectionedRun(
                self.chat,
                body.content,
                body.document_type,
                user.org,
                split_sections(body.content, limit),
                settings.llm_section_concurrency,
            )
        else:
            self.run = AnalysisRun(
                self.chat, build_messages(body.content, body.document_type, user.org)
            )
        self.events = self.run.events()
        self._guard = StreamGuard(
            self.receive,
            max_seconds=settings.stream_max_seconds,
            heartbeat_seconds=settings.sse_heartbeat_seconds,
            send_timeout_seconds=settings.sse_send_timeout_seconds,
            drain=self.drain,
        )
        self.metrics.active_streams.inc()
        self._active = True
        first: RunEvent
        try:
            async with asyncio.timeout(settings.first_token_timeout_seconds):
                with hold_requests_until(write):
                    first = await anext(self.events)
        except RowNotWritten:
            # Refused (429) or not written (503): that error is the answer, and no row exists.
            await self._release()
            error = write.exception()
            assert error is not None
            raise error from None
        except TimeoutError:
            timeout = settings.first_token_timeout_seconds
            first = Failed(
                Failure("upstream_timeout", f"no first token within {timeout:g}s", 504, True)
            )
        except asyncio.CancelledError as cancelled:
            failure = await self.stopped(cancelled)
            if failure in CLIENT_FAILURES:
                await self.close(failure)
                return None
            first = Failed(failure)
        if isinstance(first, Failed):
            await self.close(first.failure)
            raise AppError.of(first.failure)
        return first

    def hand_off_guard(self) -> StreamGuard:
        """The request's guard now watches only the request; the analysis goes on without it.

        A resumable analysis outlives its first client: it runs in a task of its own, and the
        request that started it becomes one of its readers.
        """
        guard = self.guard
        self._guard = None
        return guard

    async def stopped(self, cancelled: asyncio.CancelledError) -> Failure:
        """What a cancellation of this request means for the analysis.

        The guard's own stops (client gone, deadline, shutdown) are withdrawn and reported as
        their failure. Any other cancellation (the server giving up on the request) is
        recorded as `interrupted` and goes on.
        """
        if not self.guard.owns_cancellation():
            await self.close(INTERRUPTED)
            raise cancelled
        return STOPPED[self.guard.reason or "deadline"]

    async def close(self, failure: Failure | None) -> None:
        """Record the outcome: completed with no failure, else cancelled or failed.

        Raises the row's own error when the row was never written: there is nothing to record.
        """
        if self._closed:
            return
        self._closed = True
        await self._release()
        assert self._write is not None
        analysis_id = await asyncio.shield(self._write)
        if failure is None:
            status = AnalysisStatus.COMPLETED
        elif failure in CLIENT_FAILURES:
            status = AnalysisStatus.CANCELLED
        else:
            status = AnalysisStatus.FAILED
        run = self.run
        seconds = time.monotonic() - self.started
        ttft = run.first_token_at - self.started if run.first_token_at else None
        outcome = Outcome(
            status=status,
            findings=list(run.findings),
            summary=run.draft.summary if run.draft else None,
            error_code=failure.code if failure else None,
            prompt_tokens=run.prompt_tokens,
            completion_tokens=run.completion_tokens,
            ttft_ms=round(ttft * 1000) if ttft is not None else None,
            duration_ms=round(seconds * 1000),
        )
        self._observe(analysis_id, outcome, ttft, seconds)
        ids = {"app.analysis_id": str(analysis_id)}
        telemetry.annotate(ids)
        task = telemetry.task(
            "analysis.finish", finish_analysis(self.engine, analysis_id, outcome), ids
        )
        _background.add(task)
        task.add_done_callback(_background.discard)
        await asyncio.shield(task)

    async def _release(self) -> None:
        """Stop watching the client and close the model request."""
        if self._guard is not None:
            await self._guard.close()
        if self._active:
            self._active = False
            self.metrics.active_streams.dec()
        await aclose(self.events)

    def _observe(
        self, analysis_id: uuid.UUID, outcome: Outcome, ttft: float | None, seconds: float
    ) -> None:
        self.request_state[ANALYSIS_LOG] = {
            "analysis_id": str(analysis_id),
            "outcome": outcome.status.value,
            "error_code": outcome.error_code,
            "ttft_ms": outcome.ttft_ms,
            "tokens": self.run.tokens,
            "findings": len(outcome.findings),
        }
        metrics = self.metrics
        if ttft is not None:
            metrics.ttft.observe(ttft)
        metrics.duration.observe(seconds)
        metrics.tokens.inc(self.run.tokens)
        deadline = outcome.error_code == DEADLINE.code
        metrics.outcomes.labels("deadline" if deadline else outcome.status.value).inc()
        if outcome.error_code in UPSTREAM_CODES:
            metrics.upstream_errors.labels(outcome.error_code).inc()
