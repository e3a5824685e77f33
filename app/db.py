"""Engine and session factory, built in the lifespan (`app.deps` hands them to routes); what a
database error is; and the driver-level path of the writes before an analysis's first token."""

import functools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

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


class DriverError(Exception):
    """A driver's own exception from a statement run on its connection. It keeps the driver's
    class name only: a driver's message can quote the statement's parameters (document text)."""

    def __init__(self, driver_class: str) -> None:
        super().__init__(driver_class)
        self.driver_class = driver_class


DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError, DriverError)
"""A database that cannot be reached or refuses a statement: a 503 `database_unavailable`."""


def error_name(exc: BaseException) -> str:
    """What a log line may say of a database error: its class, the driver's for `DriverError`."""
    return exc.driver_class if isinstance(exc, DriverError) else type(exc).__name__


# The statements on the path of every analysis's first token (a token id's single use, the
# start row) run on the driver's own connection: SQLAlchemy's execution path costs about
# 0.2 ms of CPU per statement there and, on SQLite, two more thread hops, out of about 2 ms to
# the first token at C=1 (measured). SQLAlchemy still compiles them and binds their parameters;
# the rows they return are the driver's own values.


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A Core statement compiled for one dialect, with how each positional parameter binds."""

    sql: str
    compiled: SQLCompiler
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    def parameters(self, arguments: dict[str, Any]) -> list[Any]:
        values = self.compiled.construct_params(arguments, escape_names=False)
        return [bind(values[name]) if bind else values[name] for name, bind in self.binds]


@functools.cache
def driver_statement(statement: ClauseElement, dialect: Dialect) -> DriverStatement:
    """Compiled once per (statement, dialect): for module-level statements only."""
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.post_compile_params
        or compiled.literal_execute_params
    ):
        # What SQLAlchemy adds when it executes (Python-side defaults, expanded IN lists)
        # would be missing here: such a statement takes SQLAlchemy's own path.
        raise ValueError("the statement needs SQLAlchemy's execution path")
    binds = tuple(
        (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in compiled.positiontup or ()
    )
    return DriverStatement(str(compiled), compiled, binds)


def _driver_errors(dialect: Dialect) -> tuple[type[Exception], ...]:
    if dialect.name == "postgresql":
        import asyncpg  # type: ignore[import-untyped]

        return (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
    import sqlite3

    return (sqlite3.Error,)


@asynccontextmanager
async def _driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """The driver's connection (asyncpg's or aiosqlite's) from the engine's pool. The pool cannot
    see what happens on it, so on any failure it is dropped, as the pool drops one after a
    disconnect, and a driver's own exception becomes `DriverError`."""
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        try:
            yield driver
        except BaseException as exc:
            await connection.invalidate()
            if isinstance(exc, _driver_errors(engine.dialect)):
                raise DriverError(type(exc).__name__) from None
            raise


async def driver_write(
    engine: AsyncEngine, statement: ClauseElement, arguments: dict[str, Any]
) -> int:
    """Run one write statement, committed, on the driver's connection; the rows it wrote.

    PostgreSQL: one round trip in autocommit. SQLite: two thread hops (statement, commit)."""
    prepared = driver_statement(statement, engine.dialect)
    values = prepared.parameters(arguments)
    async with _driver_connection(engine) as driver:
        if engine.dialect.name == "postgresql":
            status: str = await driver.execute(prepared.sql, *values)
        else:
            cursor = await driver.execute(prepared.sql, values)
            await driver.commit()
            return int(cursor.rowcount)
    # asyncpg's command tag: "INSERT 0 <rows>", "UPDATE <rows>", "DELETE <rows>".
    return int(status.rsplit(" ", 1)[-1])


async def driver_fetchrow(
    engine: AsyncEngine, statement: ClauseElement, arguments: dict[str, Any]
) -> Sequence[Any]:
    """PostgreSQL only: run one statement in autocommit on asyncpg's connection; its one row."""
    if engine.dialect.name != "postgresql":
        raise ValueError("driver_fetchrow runs on PostgreSQL")
    prepared = driver_statement(statement, engine.dialect)
    values = prepared.parameters(arguments)
    async with _driver_connection(engine) as driver:
        row: Sequence[Any] = await driver.fetchrow(prepared.sql, *values)
    return row
