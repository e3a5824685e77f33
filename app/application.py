"""The FastAPI application, built by `create_app()`; `app.main:app` serves it."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import telemetry
from app.analyses import router as analyses
from app.analyses.guard import Drain, DrainMiddleware
from app.analyses.replay import EventLog, MemoryEventLog
from app.analyses.repository import sweep_interrupted
from app.analyses.resumable import Producers
from app.auth import purge_expired_jtis
from app.auth_gate import AuthGate
from app.body_limit import BodySizeLimitMiddleware
from app.config import Settings, load_settings
from app.db import SessionMaker, create_engine, create_sessionmaker
from app.deps import State
from app.errors import install_error_handlers
from app.json_body import JsonBodyMiddleware
from app.llm import ModelSlot
from app.logs import PROBE_PATHS, AccessLogMiddleware, configure_logging
from app.metrics import Metrics
from app.request_id import RequestIdMiddleware
from app.routers import health, me
from app.version import service_version

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("app")

MAINTENANCE_INTERVAL_SECONDS = 60.0
MAINTENANCE_FIRST_DELAY_SECONDS = 1.0
SWEEP_MARGIN_SECONDS = 60.0


async def _maintain(sessionmaker: SessionMaker, settings: Settings) -> None:
    """Purge expired token ids; fail rows a crashed process left `streaming`.

    The first pass waits a moment, so as not to compete with a new worker's first requests.
    """
    delay = MAINTENANCE_FIRST_DELAY_SECONDS
    while True:
        await asyncio.sleep(delay)
        delay = MAINTENANCE_INTERVAL_SECONDS
        try:
            await sweep_interrupted(
                sessionmaker, settings.stream_max_seconds + SWEEP_MARGIN_SECONDS
            )
            await purge_expired_jtis(sessionmaker, settings.jwt_leeway_seconds)
        except Exception:
            logger.exception("maintenance failed; retrying later")


def _event_log(settings: Settings) -> "tuple[EventLog, Redis | None]":
    """The resumable analyses' log: in this process, or in Redis when REDIS_URL is set."""
    ttl = settings.resume_log_ttl_seconds
    if not settings.redis_url:
        return MemoryEventLog(ttl), None
    from app.analyses.replay_redis import RedisEventLog, connect

    client = connect(settings.redis_url)
    # If the producer dies, its log outlives the longest analysis and the grace, then expires.
    run_ttl = settings.stream_max_seconds + settings.resume_grace_seconds + ttl
    log = RedisEventLog(client, prefix=settings.redis_key_prefix, ttl=ttl, run_ttl=run_ttl)
    return log, client


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    drain = Drain(settings.shutdown_drain_seconds)
    owns_telemetry = telemetry.configure(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[State]:
        if settings.uses_dev_secret:
            logger.warning(
                "FASTAPI_JWT_SECRET is not set: using the built-in DEVELOPMENT secret. "
                "Anyone can mint tokens for this service. Never run it like this in production."
            )
        configure_logging(settings.log_style, settings.log_level)
        metrics = Metrics()
        drain.install_signal_hooks()
        chat_model = ModelSlot(settings)
        chat_model.start()
        engine = create_engine(settings.database_url)
        sessionmaker = create_sessionmaker(engine)
        event_log, redis = _event_log(settings)
        producers = Producers()
        maintenance = asyncio.create_task(_maintain(sessionmaker, settings))
        try:
            yield State(
                settings=settings,
                engine=engine,
                sessionmaker=sessionmaker,
                chat_model=chat_model,
                drain=drain,
                metrics=metrics,
                event_log=event_log,
                producers=producers,
                redis=redis,
            )
        finally:
            maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
            # Resumable analyses still running end as `shutting_down` while all is still open.
            await producers.stop()
            await chat_model.aclose()
            await event_log.aclose()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()
            metrics.close()
            if owns_telemetry:
                telemetry.shutdown()

    app = FastAPI(
        title="Compliance analysis service",
        version=service_version(),
        description="Streams a regulatory-compliance analysis of a document as Server-Sent Events.",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(analyses.router)
    # Innermost first. The token is checked before anything looks at the body (its size
    # included), and CORS wraps every answer, refusals too.
    app.add_middleware(JsonBodyMiddleware, read_timeout=settings.body_read_timeout_seconds)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.body_limit_bytes)
    app.add_middleware(AuthGate, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "X-Analysis-Id"],
        )
    app.add_middleware(DrainMiddleware, drain=drain)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    telemetry.instrument(app, PROBE_PATHS)
    return app
