"""Analyses: stream one (`/v1/analyse/stream`), run one (`/v1/analyse`), read stored ones."""

import asyncio
import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import Response

from app.analyses.chat import ChatRequest, CompletionRequest, analyse_request
from app.analyses.guard import StreamGuard
from app.analyses.lifecycle import CLIENT_GONE, AnalysisLifecycle
from app.analyses.replay import LogUnavailable
from app.analyses.repository import get_analysis, list_analyses
from app.analyses.response import STREAM_DESCRIPTION, STREAM_RESPONSES, AnalysisStream
from app.analyses.resumable import (
    LOG_UNAVAILABLE,
    RESUME_DESCRIPTION,
    LogStream,
    entries_of,
    start_resumable,
    stored_entries,
)
from app.analyses.run import Completed, Failed
from app.analyses.sse import encoder_for
from app.auth import CurrentUser
from app.deps import (
    DrainDep,
    EngineDep,
    EventLogDep,
    MetricsDep,
    ModelDep,
    ProducersDep,
    SessionDep,
    SettingsDep,
)
from app.errors import AppError, error_responses
from app.request_id import request_id_of
from app.schemas import (
    AnalyseRequest,
    AnalysisDetail,
    AnalysisPage,
    AnalysisResult,
    AnalysisStatus,
    AnalysisSummary,
    StreamFormat,
)

router = APIRouter(prefix="/v1", tags=["analyses"])

EVENT_ID = re.compile(r"[0-9]{1,18}")
ERRORS = error_responses(401, 408, 413, 415, 422, 429, 502, 503, 504)


async def _lifecycle(
    request: Request,
    body: AnalyseRequest,
    user: CurrentUser,
    chat: ModelDep,
    settings: SettingsDep,
    engine: EngineDep,
    metrics: MetricsDep,
    drain: DrainDep,
) -> AnalysisLifecycle:
    limit = settings.max_content_chars
    if len(body.content) > limit:
        # The schema's ceiling is the contract's; this deployment set a lower one.
        message = f"content: at most {limit} characters (MAX_CONTENT_CHARS)"
        raise AppError(422, "validation_error", message)
    return AnalysisLifecycle(
        body=body,
        user=user,
        chat=chat,
        settings=settings,
        engine=engine,
        metrics=metrics,
        drain=drain,
        receive=request.receive,
        request_state=request.scope["state"],
        request_id=request_id_of(request),
    )


Lifecycle = Annotated[AnalysisLifecycle, Depends(_lifecycle)]


async def _chat_lifecycle(
    request: Request,
    body: Annotated[ChatRequest | CompletionRequest, Body()],
    user: CurrentUser,
    chat: ModelDep,
    settings: SettingsDep,
    engine: EngineDep,
    metrics: MetricsDep,
    drain: DrainDep,
) -> AnalysisLifecycle:
    analysis = analyse_request(body)
    return await _lifecycle(request, analysis, user, chat, settings, engine, metrics, drain)


ChatLifecycle = Annotated[AnalysisLifecycle, Depends(_chat_lifecycle)]

Resumable = Annotated[
    bool,
    Query(
        description="Keep the analysis running for RESUME_GRACE_SECONDS after the client leaves, "
        "and let it reconnect with `GET /v1/analyses/{id}/stream`: from an event id with "
        "`events`, from the start with `ai-sdk` or `tokens` (their events carry no ids)."
    ),
]


async def _stream(
    lifecycle: AnalysisLifecycle,
    stream_format: StreamFormat,
    resumable: bool,
    settings: SettingsDep,
    log: EventLogDep,
    producers: ProducersDep,
) -> Response:
    first = await lifecycle.open()
    if first is None:
        return Response(status_code=499)
    encoder = encoder_for(stream_format)
    if resumable:
        grace = settings.resume_grace_seconds
        return start_resumable(
            lifecycle, first, log=log, producers=producers, grace=grace, encoder=encoder
        )
    return AnalysisStream(lifecycle, first, encoder)


@router.post(
    "/analyse/stream",
    response_class=AnalysisStream,
    status_code=200,
    description=STREAM_DESCRIPTION,
    responses={**STREAM_RESPONSES, **ERRORS},
)
async def analyse_stream(
    lifecycle: Lifecycle,
    settings: SettingsDep,
    log: EventLogDep,
    producers: ProducersDep,
    format: Annotated[StreamFormat, Query(description="Wire format.")] = StreamFormat.TOKENS,
    resumable: Resumable = False,
) -> Response:
    return await _stream(lifecycle, format, resumable, settings, log, producers)


@router.post(
    "/analyse/chat",
    response_class=AnalysisStream,
    status_code=200,
    responses={**STREAM_RESPONSES, **ERRORS},
)
async def analyse_chat(
    lifecycle: ChatLifecycle,
    settings: SettingsDep,
    log: EventLogDep,
    producers: ProducersDep,
    resumable: Resumable = False,
) -> Response:
    """The `ai-sdk` stream for the AI SDK's hooks, unmodified: `useChat` (DefaultChatTransport:
    the last user message's text is the document, `document_type` from the request body or the
    message's metadata, default `contract`) and `useCompletion` (`{prompt}`). The `finish` part
    carries `messageMetadata`: the analysis id, token usage and time to first token.
    `resumable=true`: as on `/v1/analyse/stream`, for `useChat({resume: true})`."""
    return await _stream(lifecycle, StreamFormat.AI_SDK, resumable, settings, log, producers)


@router.post("/analyse", responses=ERRORS)
async def analyse(lifecycle: Lifecycle) -> AnalysisResult:
    """The same analysis, answered as one JSON document for callers that do not stream."""
    event = await lifecycle.open()
    if event is None:
        raise AppError.of(CLIENT_GONE)
    try:
        while not isinstance(event, Completed | Failed):  # tokens, findings, section progress
            event = await anext(lifecycle.events)
    except asyncio.CancelledError as cancelled:
        failure = await lifecycle.stopped(cancelled)
        await lifecycle.close(failure)
        raise AppError.of(failure) from None
    failed = event.failure if isinstance(event, Failed) else None
    await lifecycle.close(failed)
    if failed is not None:
        raise AppError.of(failed)
    return lifecycle.result()


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


@router.get(
    "/analyses/{analysis_id}/stream",
    response_class=LogStream,
    status_code=200,
    description=RESUME_DESCRIPTION,
    responses={**STREAM_RESPONSES, **error_responses(401, 404, 409, 422, 503)},
)
async def resume_stream(
    request: Request,
    analysis_id: uuid.UUID,
    session: SessionDep,
    user: CurrentUser,
    log: EventLogDep,
    settings: SettingsDep,
    drain: DrainDep,
    format: Annotated[StreamFormat, Query(description="Wire format.")] = StreamFormat.EVENTS,
    after: Annotated[
        int | None,
        Query(ge=0, lt=10**18, description="The last event id received (as Last-Event-ID)."),
    ] = None,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    row = await get_analysis(session, user.org, analysis_id)
    if row is None:
        raise AppError(404, "not_found", "no such analysis")
    if after is None and last_event_id is not None and last_event_id.strip():
        if not EVENT_ID.fullmatch(last_event_id.strip()):
            raise AppError(422, "validation_error", "Last-Event-ID: an event id (an integer)")
        after = int(last_event_id)
    key = str(analysis_id)
    try:
        entries = await log.follow(key)
    except LogUnavailable:
        raise AppError.of(LOG_UNAVAILABLE, headers={"retry-after": "1"}) from None
    guard = StreamGuard(
        request.receive,
        max_seconds=settings.stream_max_seconds,
        heartbeat_seconds=settings.sse_heartbeat_seconds,
        send_timeout_seconds=settings.sse_send_timeout_seconds,
        drain=drain,
    )
    request_id = request_id_of(request)
    if entries is not None:
        encoder = encoder_for(format)
        return LogStream(
            key,
            entries,
            encoder,
            guard,
            after=after,
            attachment=log.attach(key),
            request_id=request_id,
        )
    if row.status == AnalysisStatus.STREAMING:
        await guard.close()
        raise AppError(
            409, "not_resumable", "the analysis is running and was not started with resumable=true"
        )
    encoder = encoder_for(format, 0 if after is None else after + 1)
    return LogStream(key, entries_of(stored_entries(row, after)), encoder, guard)
