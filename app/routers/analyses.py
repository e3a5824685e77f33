"""Analyses: stream one (`/v1/analyse/stream`), run one (`/v1/analyse`), read stored ones."""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from app.analysis import AnalysisRun, Completed, Event, Failed, FindingReady, Token, aclose
from app.auth import CurrentUser
from app.config import Settings
from app.db import SessionDep, engine_of
from app.errors import AppError, error_responses
from app.llm import ChatModel, ModelSlot, RowNotWritten, hold_requests_until
from app.models import utcnow
from app.prompt import build_messages
from app.records import (
    Limits,
    Outcome,
    finish_analysis,
    get_analysis,
    list_analyses,
    start_analysis,
)
from app.request_id import request_id_of
from app.schemas import (
    AnalyseRequest,
    AnalysisDetail,
    AnalysisPage,
    AnalysisResult,
    AnalysisStatus,
    AnalysisSummary,
    ErrorInfo,
    StartEvent,
    StreamFormat,
)
from app.sse import SSE_HEADERS, Encoder, encoder_for
from app.stream_guard import StreamGuard

if TYPE_CHECKING:
    from app.metrics import Metrics

logger = logging.getLogger("app.analyses")

router = APIRouter(prefix="/v1", tags=["analyses"])

ERRORS = error_responses(401, 413, 422, 429, 502, 503, 504)

_background: set[asyncio.Task[None]] = set()

UPSTREAM_CODES = frozenset(
    {
        "upstream_error",
        "upstream_unavailable",
        "upstream_timeout",
        "upstream_rate_limited",
        "upstream_auth",
        "model_error",
        "invalid_model_output",
    }
)

# Why the guard stopped a stream that had already started: (code, message, HTTP status).
STOPPED = {
    "deadline": ("deadline_exceeded", "the analysis exceeded the maximum stream time", 504),
    "shutdown": ("shutting_down", "the service is shutting down; retry the analysis", 503),
}


async def model_of(request: Request) -> ChatModel:
    slot: ModelSlot = request.state.chat_model
    return await slot.get()


@dataclass(slots=True)
class Started:
    """An analysis whose row is being written or exists, and whose model was called."""

    write: "asyncio.Future[uuid.UUID]"
    run: AnalysisRun
    events: AsyncIterator[Event]
    first: Event
    guard: StreamGuard
    started: float
    request: Request

    @property
    def analysis_id(self) -> uuid.UUID:
        return self.write.result()

    async def finish(self, status: AnalysisStatus, error_code: str | None = None) -> None:
        """Close upstream and record the outcome; the write survives a second cancellation.

        Raises the row's own error (429, 503) when it was never written: there is nothing to
        record, and that error is the answer.
        """
        await self.guard.close()
        await aclose(self.events)
        try:
            await asyncio.shield(self.write)
        except Exception:
            self.request.state.metrics.active_streams.dec()
            raise
        run = self.run
        seconds = time.monotonic() - self.started
        ttft = run.first_token_at - self.started if run.first_token_at else None
        outcome = Outcome(
            status=status,
            findings=list(run.findings),
            summary=run.draft.summary if run.draft else None,
            error_code=error_code,
            prompt_tokens=run.prompt_tokens,
            completion_tokens=run.completion_tokens,
            ttft_ms=round(ttft * 1000) if ttft is not None else None,
            duration_ms=round(seconds * 1000),
        )
        self._observe(outcome, ttft, seconds)
        task = asyncio.ensure_future(
            finish_analysis(engine_of(self.request), self.analysis_id, outcome)
        )
        _background.add(task)
        task.add_done_callback(_background.discard)
        await asyncio.shield(task)

    def _observe(self, outcome: Outcome, ttft: float | None, seconds: float) -> None:
        self.request.state.analysis_log = {
            "analysis_id": str(self.analysis_id),
            "outcome": outcome.status.value,
            "error_code": outcome.error_code,
            "ttft_ms": outcome.ttft_ms,
            "tokens": self.run.tokens,
            "findings": len(outcome.findings),
        }
        metrics: Metrics = self.request.state.metrics
        metrics.active_streams.dec()
        if ttft is not None:
            metrics.ttft.observe(ttft)
        metrics.duration.observe(seconds)
        metrics.tokens.inc(self.run.tokens)
        deadline = outcome.error_code == "deadline_exceeded"
        metrics.outcomes.labels("deadline" if deadline else outcome.status.value).inc()
        if outcome.error_code in UPSTREAM_CODES:
            metrics.upstream_errors.labels(outcome.error_code).inc()


async def _start(request: Request, body: AnalyseRequest, user: CurrentUser) -> Started | None:
    """Write the row, call the model and wait for its first event (None: the client left).

    The row is written while the model request is built; the request is sent once the row is
    committed, so a refused start never reaches the model.
    """
    started = time.monotonic()
    settings: Settings = request.state.settings
    chat = await model_of(request)
    write = asyncio.ensure_future(
        start_analysis(
            engine_of(request),
            user=user,
            body=body,
            provider=chat.provider,
            model=chat.name,
            request_id=request_id_of(request),
            store_content=settings.store_document_content,
            limits=Limits(
                settings.org_max_concurrent_streams,
                settings.user_requests_per_minute,
                settings.stream_max_seconds,
            ),
        )
    )
    if chat.http_client is None:
        # An in-process model cannot be held back: the row comes first.
        await write
    else:
        await asyncio.sleep(0)  # let the write reach the database before the request is built
    run = AnalysisRun(chat, build_messages(body.content, body.document_type, user.org))
    guard = StreamGuard(
        request.receive,
        max_seconds=settings.stream_max_seconds,
        heartbeat_seconds=settings.sse_heartbeat_seconds,
        drain=request.state.drain,
    )
    events = run.events()
    state = Started(write, run, events, Token(""), guard, started, request)
    metrics: Metrics = request.state.metrics
    metrics.active_streams.inc()
    try:
        async with asyncio.timeout(settings.first_token_timeout_seconds):
            # The request is built while the row is written, and sent once it is committed.
            with hold_requests_until(write):
                state.first = await anext(events)
    except RowNotWritten:
        state.first = Failed("row_not_written", "the analysis row was not written", 503, True)
    except TimeoutError:
        timeout = settings.first_token_timeout_seconds
        state.first = Failed("upstream_timeout", f"no first token within {timeout:g}s", 504, True)
    except asyncio.CancelledError:
        if not state.guard.owns_cancellation():
            await state.finish(AnalysisStatus.FAILED, "interrupted")
            raise
        if state.guard.reason == "disconnect":
            await state.finish(AnalysisStatus.CANCELLED, "client_disconnected")
            return None
        code, message, status = STOPPED[state.guard.reason or "deadline"]
        state.first = Failed(code, message, status, True)
    if isinstance(state.first, Failed):
        failure = state.first
        await state.finish(AnalysisStatus.FAILED, failure.code)
        raise AppError(
            failure.status_code, failure.code, failure.message, retryable=failure.retryable
        )
    return state


def _result(state: Started) -> AnalysisResult:
    assert state.run.draft is not None
    draft = state.run.draft
    return AnalysisResult(
        findings=draft.findings,
        summary=draft.summary,
        processed_at=utcnow(),
        analysis_id=state.analysis_id,
    )


class AnalysisStream(Response):
    """Streams one started analysis in the chosen format; the status line is already decided."""

    media_type = "text/event-stream"

    def __init__(self, state: Started, encoder: Encoder, opening: StartEvent) -> None:
        headers = {**SSE_HEADERS, **encoder.headers, "x-analysis-id": str(state.analysis_id)}
        super().__init__(status_code=200, headers=headers, media_type=self.media_type)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.state = state
        self.encoder = encoder
        self.opening = opening

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state, encoder, guard = self.state, self.encoder, self.state.guard
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        send = scope.get("state", {}).get("body_send", send)
        guard.attach(send)
        status = AnalysisStatus.FAILED
        error_code: str | None = "interrupted"
        try:
            opening = encoder.opening(self.opening)
            if opening:
                await guard.send(opening)
            event = state.first
            while True:
                if isinstance(event, Token):
                    data = encoder.token(event.text)
                elif isinstance(event, FindingReady):
                    data = encoder.finding(event.index, event.finding)
                elif isinstance(event, Completed):
                    await guard.send(encoder.result(_result(state)))
                    status, error_code = AnalysisStatus.COMPLETED, None
                    break
                else:
                    await guard.send(
                        encoder.error(self._error(event.code, event.message, event.retryable))
                    )
                    error_code = event.code
                    break
                if data:
                    await guard.send(data)
                event = await anext(state.events)
        except asyncio.CancelledError:
            if not guard.owns_cancellation():
                await state.finish(status, error_code)
                raise
            if guard.reason == "disconnect":
                status, error_code = AnalysisStatus.CANCELLED, "client_disconnected"
            else:
                error_code, message, _ = STOPPED[guard.reason or "deadline"]
                await guard.send(encoder.error(self._error(error_code, message, True)))
        except Exception:
            logger.exception("analysis %s failed mid-stream", state.analysis_id)
            error_code = "internal_error"
            message = "the analysis failed unexpectedly"
            await guard.send(encoder.error(self._error(error_code, message, True)))
        await state.finish(status, error_code)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _error(self, code: str, message: str, retryable: bool) -> ErrorInfo:
        return ErrorInfo(
            code=code, message=message, request_id=self.opening.request_id, retryable=retryable
        )


# One Server-Sent Event; `data` is JSON except the final `[DONE]`.
SSE_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "event": {
            "type": "string",
            "enum": ["message", "start", "token", "finding", "result", "error"],
        },
        "id": {"type": "string"},
    },
}

STREAM_DESCRIPTION = """\
Streams the analysis as Server-Sent Events once the model's first token is ready; everything that
fails before that gets a real HTTP status and a JSON error body.

- `format=tokens` (default): `data: {"token": "..."}` per model chunk, then `data: [DONE]`.
  A failure mid-stream sends `data: {"error": {"code", "message", "request_id", "retryable"}}`
  and then `data: [DONE]`.
- `format=events`: named events with ids: `start` (StartEvent), `token` (TokenEvent), `finding`
  (FindingEvent, as soon as each finding is complete), `result` (AnalysisResult) or `error`
  (ErrorInfo), then `data: [DONE]`.
- `format=ai-sdk`: the Vercel AI SDK UI message stream protocol v1 (a Markdown report as text
  parts, `data-finding` and `data-analysis` parts), for `useChat` / `useCompletion`.

Comment lines (`: ping`) keep the connection alive while no token flows.
"""


@router.post(
    "/analyse/stream",
    response_class=AnalysisStream,
    status_code=200,
    description=STREAM_DESCRIPTION,
    responses={
        200: {
            "description": "An event stream in the requested format.",
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
            "headers": {
                "X-Analysis-Id": {"schema": {"type": "string", "format": "uuid"}},
                "X-Request-ID": {"schema": {"type": "string"}},
            },
        },
        **ERRORS,
    },
)
async def analyse_stream(
    request: Request,
    body: AnalyseRequest,
    user: CurrentUser,
    format: Annotated[StreamFormat, Query(description="Wire format.")] = StreamFormat.TOKENS,
) -> Response:
    state = await _start(request, body, user)
    if state is None:
        return Response(status_code=499)
    chat = state.run.chat
    opening = StartEvent(
        analysis_id=state.analysis_id,
        request_id=request_id_of(request),
        provider=chat.provider,
        model=chat.name,
    )
    return AnalysisStream(state, encoder_for(format), opening)


@router.post("/analyse", responses=ERRORS)
async def analyse(request: Request, body: AnalyseRequest, user: CurrentUser) -> AnalysisResult:
    """The same analysis, answered as one JSON document for callers that do not stream."""
    state = await _start(request, body, user)
    if state is None:
        raise AppError(499, "client_disconnected", "the client went away")
    event = state.first
    try:
        while not isinstance(event, Completed | Failed):
            event = await anext(state.events)
    except asyncio.CancelledError:
        owned = state.guard.owns_cancellation()
        if owned and state.guard.reason == "disconnect":
            await state.finish(AnalysisStatus.CANCELLED, "client_disconnected")
            raise AppError(499, "client_disconnected", "the client went away") from None
        await state.finish(AnalysisStatus.FAILED, "deadline_exceeded" if owned else "interrupted")
        if not owned:
            raise
        raise AppError(
            504, "deadline_exceeded", "the analysis took too long", retryable=True
        ) from None
    if isinstance(event, Failed):
        await state.finish(AnalysisStatus.FAILED, event.code)
        raise AppError(event.status_code, event.code, event.message, retryable=event.retryable)
    await state.finish(AnalysisStatus.COMPLETED)
    return _result(state)


@router.get("/analyses", responses=error_responses(401, 422, 503))
async def list_stored(
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        uuid.UUID | None, Query(description="`next_cursor` of the previous page.")
    ] = None,
) -> AnalysisPage:
    """The caller's organisation's analyses, newest first."""
    rows = await list_analyses(session, user.org, limit + 1, cursor)
    items = [AnalysisSummary.model_validate(row) for row in rows[:limit]]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return AnalysisPage(items=items, next_cursor=next_cursor)


@router.get("/analyses/{analysis_id}", responses=error_responses(401, 404, 422, 503))
async def read_stored(
    analysis_id: uuid.UUID, session: SessionDep, user: CurrentUser
) -> AnalysisDetail:
    """One analysis of the caller's organisation; another organisation's is a 404 like a missing one."""
    row = await get_analysis(session, user.org, analysis_id)
    if row is None:
        raise AppError(404, "not_found", "no such analysis")
    return AnalysisDetail.model_validate(row)
