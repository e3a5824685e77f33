"""Probes: `/health` (liveness, no I/O) and `/ready` (readiness, checks the database)."""

import asyncio
import ipaddress
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.deps import MetricsDep, ModelSlotDep, SessionMakerDep, SettingsDep
from app.errors import AppError
from app.version import service_version

router = APIRouter(tags=["probes"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str = Field(description="The service's release (pyproject.toml, CHANGELOG.md).")


class Readiness(BaseModel):
    """What was checked: `unchecked` while the application is still loading."""

    status: Literal["ready", "unavailable"]
    database: Literal["ok", "down", "unchecked"]
    model: Literal["ok", "loading", "down"]


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: SettingsDep, registry: MetricsDep) -> Response:
    """Prometheus exposition, only for callers in METRICS_ALLOW (never the public ingress)."""
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
    return Response(registry.render(), media_type=registry.content_type)


@router.get("/health")
async def health() -> Health:
    return Health(version=service_version())


@router.get("/ready", responses={503: {"model": Readiness}})
async def ready(
    settings: SettingsDep, sessionmaker: SessionMakerDep, slot: ModelSlotDep
) -> JSONResponse:
    database: Literal["ok", "down"] = "ok"
    try:
        async with asyncio.timeout(settings.db_ready_timeout_seconds):
            async with sessionmaker() as session:
                await session.execute(text("SELECT 1"))
    except Exception:
        database = "down"
    model = slot.state
    ok = database == "ok" and model == "ok"
    body = Readiness(status="ready" if ok else "unavailable", database=database, model=model)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
