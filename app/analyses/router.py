"""Analyses: stream one (`/v1/analyse/stream`), run one (`/v1/analyse`), read stored ones."""

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.analyses.lifecycle import CLIENT_GONE, AnalysisLifecycle
from app.analyses.repository import get_analysis, list_analyses
from app.analyses.response import STREAM_DESCRIPTION, STREAM_RESPONSES, AnalysisStream
from app.analyses.run import Completed, Failed
from app.analyses.sse import encoder_for
from app.auth import CurrentUser
from app.deps import DrainDep, EngineDep, MetricsDep, ModelDep, SessionDep, SettingsDep
from app.errors import AppError, error_responses
from app.request_id import request_id_of
from app.schemas import (
    AnalyseRequest,
    AnalysisDetail,
    AnalysisPage,
    AnalysisResult,
    AnalysisSummary,
    StreamFormat,
)

router = APIRouter(prefix="/v1", tags=["analyses"])

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


@router.post(
    "/analyse/stream",
    response_class=AnalysisStream,
    status_code=200,
    description=STREAM_DESCRIPTION,
    responses={**STREAM_RESPONSES, **ERRORS},
)
async def analyse_stream(
    lifecycle: Lifecycle,
    format: Annotated[StreamFormat, Query(description="Wire format.")] = StreamFormat.TOKENS,
) -> Response:
    first = await lifecycle.open()
    if first is None:
        return Response(status_code=499)
    return AnalysisStream(lifecycle, first, encoder_for(format))


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
