"""The `analyses` rows: inserted before the model is called, finished in one short write."""

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect
from sqlalchemy.types import TypeEngine

from app.db import (
    DATABASE_ERRORS,
    SessionMaker,
    driver_fetchrow,
    driver_write,
    error_name,
    single_statement,
)
from app.errors import DATABASE_UNAVAILABLE, AppError
from app.models import Analysis, UTCDateTime, utcnow
from app.schemas import AnalyseRequest, AnalysisStatus, Finding, TokenPayload

logger = logging.getLogger("app.analyses")

DB_TIMEOUT_SECONDS = 30.0
OUTCOME_NOT_RECORDED = "outcome_not_recorded"


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


ANALYSES = cast(Table, Analysis.__table__)
# Built once: per-call statement construction and cache-key generation cost more CPU than
# the round trips themselves.
_MINE = (ANALYSES.c.sub == bindparam("sub")) & (ANALYSES.c.created_at > bindparam("window_start"))
_COUNT = select(
    func.count().filter(ANALYSES.c.status == AnalysisStatus.STREAMING.value),
    func.count().filter(_MINE),
    func.min(ANALYSES.c.created_at).filter(_MINE),
).where(ANALYSES.c.org == bindparam("org"), ANALYSES.c.created_at > bindparam("live_since"))
_FINISH = update(ANALYSES).where(
    ANALYSES.c.id == bindparam("analysis_id"),
    ANALYSES.c.status == AnalysisStatus.STREAMING.value,
)
_START_ARGUMENTS: dict[str, TypeEngine[Any]] = {
    "id": Uuid(),
    "org": String(),
    "sub": String(),
    "document_type": String(),
    "content_sha256": String(),
    "content_chars": Integer(),
    "content": Text(),
    "provider": String(),
    "model": String(),
    "request_id": String(),
    "created_at": UTCDateTime(),
    "live_since": UTCDateTime(),
    "window_start": UTCDateTime(),
    "max_streaming": Integer(),
    "max_per_minute": Integer(),
}
# The PostgreSQL function of migration 0002: lock, count and insert in one round trip. Named
# notation, so the call does not depend on the order of the function's parameters. The names
# are the constant keys above, never input.
_START = (
    text(
        "SELECT inserted, streaming, recent, oldest FROM start_analysis_within_limits("  # noqa: S608
        + ", ".join(f"p_{name} => :{name}" for name in _START_ARGUMENTS)
        + ")"
    )
    .bindparams(*(bindparam(name, type_=type_) for name, type_ in _START_ARGUMENTS.items()))
    .columns(inserted=Boolean, streaming=Integer, recent=Integer, oldest=UTCDateTime)
)
_ROW_COLUMNS = [name for name in _START_ARGUMENTS if name in ANALYSES.c]


def _count(*conditions: ColumnElement[bool]) -> ScalarSelect[int]:
    return select(func.count()).where(*conditions).scalar_subquery()


_INSERT_WITHIN_LIMITS = insert(ANALYSES).from_select(
    [*_ROW_COLUMNS, "status"],
    select(
        *(bindparam(name, type_=_START_ARGUMENTS[name]) for name in _ROW_COLUMNS),
        literal(AnalysisStatus.STREAMING.value),
    ).where(
        _count(
            ANALYSES.c.org == bindparam("org"),
            ANALYSES.c.status == AnalysisStatus.STREAMING.value,
            ANALYSES.c.created_at > bindparam("live_since"),
        )
        < bindparam("max_streaming"),
        _count(
            ANALYSES.c.org == bindparam("org"),
            _MINE,
        )
        < bindparam("max_per_minute"),
    ),
)


def _refusal(
    limits: Limits, streaming: int, recent: int, oldest: datetime | None
) -> AppError | None:
    """Why a new start is refused, from the counts of the organisation's and user's other rows."""
    if streaming >= limits.org_max_concurrent_streams:
        return rate_limited(
            f"your organisation already has {limits.org_max_concurrent_streams} analyses "
            "streaming; retry when one finishes",
            5,
        )
    if recent >= limits.user_requests_per_minute:
        retry_after = 60 - (utcnow() - oldest).total_seconds() if oldest else 60.0
        return rate_limited(
            f"at most {limits.user_requests_per_minute} analyses per minute per user",
            int(retry_after) + 1,
        )
    return None


Counts = tuple[bool, int, int, datetime | None]  # inserted, streaming, recent, oldest


async def _start_on_postgresql(engine: AsyncEngine, arguments: dict[str, Any]) -> Counts:
    inserted, streaming, recent, oldest = await driver_fetchrow(engine, _START, arguments)
    return inserted, streaming, recent, oldest


async def _start_on_sqlite(engine: AsyncEngine, arguments: dict[str, Any]) -> Counts:
    """One INSERT ... SELECT ... WHERE under limits: a write statement takes SQLite's write lock
    before it reads, so it serialises the starts of every worker like the PostgreSQL lock.

    A refusal's counts, for its message only, are read after the insert's commit: when they no
    longer show a limit reached, the message is the generic one."""
    if await driver_write(engine, _INSERT_WITHIN_LIMITS, arguments):
        return True, 0, 0, None
    async with engine.connect() as connection:
        streaming, recent, oldest = (await connection.execute(_COUNT, arguments)).one()
    return False, streaming, recent, oldest


async def start_analysis(
    engine: AsyncEngine,
    *,
    user: TokenPayload,
    body: AnalyseRequest,
    provider: str,
    model: str,
    request_id: str | None,
    store_content: bool,
    limits: Limits,
) -> uuid.UUID:
    """Insert the `streaming` row unless the organisation's or the user's limit is reached.

    The limits are counted from the rows themselves, so they hold across workers and replicas.
    """
    analysis_id = uuid.uuid4()
    now = utcnow()
    window_start = now - timedelta(seconds=60)
    arguments: dict[str, Any] = {
        "id": analysis_id,
        "org": user.org,
        "sub": user.sub,
        "document_type": body.document_type,
        "content_sha256": hashlib.sha256(body.content.encode()).hexdigest(),
        "content_chars": len(body.content),
        "content": body.content if store_content else None,
        "provider": provider,
        "model": model,
        "request_id": request_id,
        "created_at": now,
        "live_since": min(now - timedelta(seconds=limits.stream_max_seconds + 60), window_start),
        "window_start": window_start,
        "max_streaming": limits.org_max_concurrent_streams,
        "max_per_minute": limits.user_requests_per_minute,
    }
    start = _start_on_postgresql if engine.dialect.name == "postgresql" else _start_on_sqlite
    try:
        async with asyncio.timeout(DB_TIMEOUT_SECONDS):
            inserted, streaming, recent, oldest = await start(engine, arguments)
    except DATABASE_ERRORS as exc:
        # The exception's text can carry the statement's parameters: the class alone.
        logger.error("could not record the analysis: %s", error_name(exc))
        raise AppError.of(DATABASE_UNAVAILABLE) from None
    if not inserted:
        raise _refusal(limits, streaming, recent, oldest) or rate_limited("limit reached", 5)
    return analysis_id


async def finish_analysis(engine: AsyncEngine, analysis_id: uuid.UUID, outcome: Outcome) -> None:
    """Write the outcome; if it cannot be written, still take the row out of `streaming`.

    A row left `streaming` counts against the organisation's concurrent-stream limit until the
    sweeper finds it, so a write that fails twice is followed by one that carries no findings,
    no summary and nothing else of the document: `failed` with `outcome_not_recorded`.
    """
    values: dict[str, Any] = {
        "analysis_id": analysis_id,
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
    bare = {
        **values,
        "status": AnalysisStatus.FAILED.value,
        "findings": None,
        "summary": None,
        "error_code": OUTCOME_NOT_RECORDED,
    }
    for attempt, arguments in enumerate((values, values, bare), start=1):
        try:
            async with asyncio.timeout(DB_TIMEOUT_SECONDS), single_statement(engine) as connection:
                await connection.execute(_FINISH, arguments)
        except DATABASE_ERRORS as exc:
            # The exception's text can carry the statement's parameters: the class alone.
            logger.error(
                "could not record the outcome of analysis %s (attempt %d): %s",
                analysis_id,
                attempt,
                error_name(exc),
            )
            continue
        return
    # The sweeper marks the row `interrupted` later: it never stays `streaming` forever.


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
