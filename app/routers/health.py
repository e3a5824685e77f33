"""Probes: `/health` (liveness, no I/O) and `/ready` (readiness, checks the database)."""

import asyncio
import ipaddress
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.config import Settings
from app.db import sessionmaker_of
from app.errors import AppError
from app.llm import ModelSlot
from app.version import service_version

if TYPE_CHECKING:
    from app.metrics import Metrics

router = APIRouter(tags=["probes"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str = Field(description="The service's release (pyproject.toml, CHANGELOG.md).")


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    database: Literal["ok", "down"]
    model: Literal["ok", "loading", "down"]


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition, only for callers in METRICS_ALLOW (never the public ingress)."""
    settings: Settings = request.state.settings
    if "x-forwarded-for" in request.headers:
        # Came through a proxy: the scraper on the replica never does, and the header is spoofable.
        raise AppError(404, "not_found", "Not Found")
    client = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(client)
        allowed = any(
            address in ipaddress.ip_network(n, strict=False) for n in settings.metrics_allow
        )
    except ValueError:
        allowed = False
    if not allowed:
        raise AppError(404, "not_found", "Not Found")
    registry: Metrics = request.state.metrics
    return Response(registry.render(), media_type=registry.content_type)


@router.get("/health")
async def health() -> Health:
    return Health(version=service_version())


@router.get("/ready", responses={503: {"model": Readiness}})
async def ready(request: Request) -> JSONResponse:
    settings: Settings = request.state.settings
    slot: ModelSlot = request.state.chat_model
    database: Literal["ok", "down"] = "ok"
    try:
        async with asyncio.timeout(settings.db_ready_timeout_seconds):
            async with sessionmaker_of(request)() as session:
                await session.execute(text("SELECT 1"))
    except Exception:
        database = "down"
    model = slot.state
    ok = database == "ok" and model == "ok"
    body = Readiness(status="ready" if ok else "unavailable", database=database, model=model)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
