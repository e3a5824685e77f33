"""What the lifespan provides, typed: the `State` it yields and one dependency per piece of it.

Routes say what they need with these aliases instead of reading `request.state`. Every
dependency is `async`: FastAPI runs a plain `def` dependency in a worker thread.
"""

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, TypedDict, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.analyses.guard import Drain
from app.analyses.replay import EventLog
from app.analyses.resumable import Producers
from app.config import Settings
from app.db import SessionMaker
from app.llm import ChatModel, ModelSlot
from app.metrics import Metrics

if TYPE_CHECKING:
    from redis.asyncio import Redis


class State(TypedDict):
    """Yielded by the lifespan; every request's `scope["state"]` starts as a copy of it."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: SessionMaker
    chat_model: ModelSlot
    drain: Drain
    metrics: Metrics
    event_log: EventLog
    producers: Producers
    # Only with REDIS_URL; redis is not imported otherwise.
    redis: "Redis | None"


def state_of(request: Request) -> State:
    return cast(State, request.scope["state"])


async def _settings(request: Request) -> Settings:
    return state_of(request)["settings"]


async def _engine(request: Request) -> AsyncEngine:
    return state_of(request)["engine"]


async def _sessionmaker(request: Request) -> SessionMaker:
    return state_of(request)["sessionmaker"]


async def _metrics(request: Request) -> Metrics:
    return state_of(request)["metrics"]


async def _drain(request: Request) -> Drain:
    return state_of(request)["drain"]


async def _event_log(request: Request) -> EventLog:
    return state_of(request)["event_log"]


async def _producers(request: Request) -> Producers:
    return state_of(request)["producers"]


async def _model_slot(request: Request) -> ModelSlot:
    return state_of(request)["chat_model"]


async def _model(request: Request) -> ChatModel:
    """The chat model, once built (503 `model_unavailable` when it cannot be)."""
    return await state_of(request)["chat_model"].get()


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with state_of(request)["sessionmaker"]() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[AsyncEngine, Depends(_engine)]
SessionMakerDep = Annotated[SessionMaker, Depends(_sessionmaker)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
DrainDep = Annotated[Drain, Depends(_drain)]
EventLogDep = Annotated[EventLog, Depends(_event_log)]
ProducersDep = Annotated[Producers, Depends(_producers)]
ModelSlotDep = Annotated[ModelSlot, Depends(_model_slot)]
ModelDep = Annotated[ChatModel, Depends(_model)]
# scope="function": commit before the response is sent, so a 2xx means the write is durable.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
