"""The `analyses` rows: inserted before the model is called, finished in one short write."""

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import SessionMaker
from app.errors import AppError
from app.models import Analysis, utcnow
from app.schemas import AnalyseRequest, AnalysisStatus, Finding, TokenPayload

logger = logging.getLogger("app.records")

DB_TIMEOUT_SECONDS = 30.0
DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


def database_unavailable() -> AppError:
    return AppError(503, "database_unavailable", "the database is unavailable", retryable=True)


@dataclass(slots=True)
class Outcome:
    status: AnalysisStatus
    findings: list[Finding]
    summary: str | None = None
    error_code: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: int | None = None
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    org_max_concurrent_streams: int
    user_requests_per_minute: int
    stream_max_seconds: float


def rate_limited(message: str, retry_after: int) -> AppError:
    return AppError(
        429,
        "rate_limited",
        message,
        retryable=True,
        headers={"Retry-After": str(max(1, retry_after))},
    )


async def _insert_within_limits(session: AsyncSession, row: Analysis, limits: Limits) -> None:
    """Insert, then count from the rows themselves: the limits hold across workers and replicas."""
    now = row.created_at
    if session.get_bind().dialect.name == "postgresql":
        # Serialise the starts of one organisation; SQLite serialises all writers anyway.
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(row.org, 0))))
    values = {c.key: getattr(row, c.key) for c in Analysis.__table__.columns}
    await session.execute(insert(Analysis).values(values))
    live_since = now - timedelta(seconds=limits.stream_max_seconds + 60)
    window_start = now - timedelta(seconds=60)
    mine = (Analysis.sub == row.sub) & (Analysis.created_at > window_start)
    streaming, recent, oldest = (
        await session.execute(
            select(
                func.count().filter(Analysis.status == AnalysisStatus.STREAMING.value),
                func.count().filter(mine),
                func.min(Analysis.created_at).filter(mine),
            ).where(Analysis.org == row.org, Analysis.created_at > min(live_since, window_start))
        )
    ).one()
    if streaming > limits.org_max_concurrent_streams:
        raise rate_limited(
            f"your organisation already has {limits.org_max_concurrent_streams} analyses "
            "streaming; retry when one finishes",
            5,
        )
    if recent > limits.user_requests_per_minute:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        retry_after = 60 - (now - oldest).total_seconds()
        raise rate_limited(
            f"at most {limits.user_requests_per_minute} analyses per minute per user",
            int(retry_after) + 1,
        )


async def start_analysis(
    sessionmaker: SessionMaker,
    *,
    user: TokenPayload,
    body: AnalyseRequest,
    provider: str,
    model: str,
    request_id: str | None,
    store_content: bool,
    limits: Limits,
) -> uuid.UUID:
    row = Analysis(
        id=uuid.uuid4(),
        org=user.org,
        sub=user.sub,
        document_type=body.document_type,
        content_sha256=hashlib.sha256(body.content.encode()).hexdigest(),
        content_chars=len(body.content),
        content=body.content if store_content else None,
        status=AnalysisStatus.STREAMING,
        provider=provider,
        model=model,
        request_id=request_id,
        created_at=utcnow(),
    )
    try:
        async with asyncio.timeout(DB_TIMEOUT_SECONDS), sessionmaker() as session:
            await _insert_within_limits(session, row, limits)
            await session.commit()
    except DATABASE_ERRORS:
        logger.exception("could not record the analysis")
        raise database_unavailable() from None
    return row.id


async def finish_analysis(
    sessionmaker: SessionMaker, analysis_id: uuid.UUID, outcome: Outcome
) -> None:
    values: dict[str, Any] = {
        "status": outcome.status.value,
        "findings": [f.model_dump(mode="json") for f in outcome.findings],
        "summary": outcome.summary,
        "error_code": outcome.error_code,
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
        "ttft_ms": outcome.ttft_ms,
        "duration_ms": outcome.duration_ms,
        "completed_at": utcnow(),
    }
    statement = (
        update(Analysis)
        .where(Analysis.id == analysis_id, Analysis.status == AnalysisStatus.STREAMING.value)
        .values(**values)
    )
    try:
        async with asyncio.timeout(DB_TIMEOUT_SECONDS), sessionmaker() as session:
            await session.execute(statement)
            await session.commit()
    except DATABASE_ERRORS:
        # The sweeper marks the row `interrupted` later: it never stays `streaming` forever.
        logger.exception("could not record the outcome of analysis %s", analysis_id)


async def sweep_interrupted(sessionmaker: SessionMaker, older_than_seconds: float) -> int:
    """Mark rows left `streaming` by a crashed process as failed (`interrupted`)."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    statement = (
        update(Analysis)
        .where(Analysis.status == AnalysisStatus.STREAMING.value, Analysis.created_at < cutoff)
        .values(status=AnalysisStatus.FAILED.value, error_code="interrupted", completed_at=utcnow())
    )
    async with sessionmaker() as session:
        result = await session.execute(statement)
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


async def get_analysis(session: AsyncSession, org: str, analysis_id: uuid.UUID) -> Analysis | None:
    row = await session.get(Analysis, analysis_id)
    return row if row is not None and row.org == org else None


async def list_analyses(
    session: AsyncSession, org: str, limit: int, after: uuid.UUID | None
) -> list[Analysis]:
    """Newest first; `after` is the id of the last row of the previous page."""
    query = select(Analysis).where(Analysis.org == org)
    if after is not None:
        last = await get_analysis(session, org, after)
        if last is None:
            return []
        query = query.where(
            (Analysis.created_at < last.created_at)
            | ((Analysis.created_at == last.created_at) & (Analysis.id < last.id))
        )
    query = query.order_by(Analysis.created_at.desc(), Analysis.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())
