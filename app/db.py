"""Engine and session factory, built in the lifespan (`app.deps` hands them to routes)."""

from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

SessionMaker = async_sessionmaker[AsyncSession]


def create_engine(url: str) -> AsyncEngine:
    # hide_parameters: a statement's parameters (documents, findings) never reach an error's
    # message, hence never a log line.
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_timeout=30,
            pool_reset_on_return=None,
            hide_parameters=True,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "reset", _sqlite_reset)
        return engine
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        # No pre-ping: it costs two round trips per checkout. A connection that died with the
        # server fails one request with 503 and is discarded; recycling bounds their age.
        pool_recycle=1800,
        hide_parameters=True,
        connect_args={"timeout": 5, "server_settings": {"application_name": "compliance-stream"}},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout waits instead of failing
    # when the other worker holds the write lock.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_reset(dbapi_connection: Any, record: ConnectionPoolEntry, _state: Any) -> None:
    # The pool's default reset is a rollback on every check-in: one more aiosqlite thread hop
    # after each commit, on the path of every analysis start. Only an open transaction needs it.
    if record.driver_connection is not None and record.driver_connection.in_transaction:
        dbapi_connection.rollback()


def create_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def single_statement(engine: AsyncEngine) -> AbstractAsyncContextManager[AsyncConnection]:
    """A connection for one statement: on PostgreSQL without the BEGIN and COMMIT round trips
    (aiosqlite pays a thread hop to switch modes, more than it saves)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT").connect()
    return engine.begin()
