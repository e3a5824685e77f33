"""A scratch PostgreSQL database for the product's runs, dropped afterwards whatever happens."""

import asyncio
import contextlib
import os
from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped]

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _execute(sql: str) -> str:
    connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await connection.execute(sql)
        version: str = await connection.fetchval("SHOW server_version")
        return version
    finally:
        await connection.close()


@contextlib.contextmanager
def scratch_database(skip: bool = False) -> Iterator[tuple[str, str] | None]:
    """Yield (SQLAlchemy URL, server version), or None when PostgreSQL is not reachable."""
    if skip:
        yield None
        return
    name = f"bench_{os.getpid()}"
    try:
        version = asyncio.run(_execute(f"CREATE DATABASE {name}"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        print(f"PostgreSQL not available ({exc}); skipping the PostgreSQL runs", flush=True)
        yield None
        return
    host_part = ADMIN_URL.removeprefix("postgresql://").rsplit("/", 1)[0]
    try:
        yield f"postgresql+asyncpg://{host_part}/{name}", version
    finally:
        asyncio.run(_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
