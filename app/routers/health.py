"""Probes: `/health` (liveness, no I/O) and `/ready` (readiness, checks the database)."""

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app.config import Settings
from app.db import sessionmaker_of
from app.llm import ModelSlot

router = APIRouter(tags=["probes"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    database: Literal["ok", "down"]
    model: Literal["ok", "loading", "down"]


@router.get("/health")
async def health() -> Health:
    return Health()


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
