"""Fixtures: every database-backed test runs on SQLite and on a scratch PostgreSQL database."""

import asyncio
import concurrent.futures
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from alembic import command
from alembic.config import Config
from jose import jwt
from sqlalchemy.engine import make_url

from app.application import create_app
from app.config import Settings
from devtools.openai_server import OpenAIServer
from devtools.waiting import eventually
from tests.service_process import free_port

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-for-the-suite-only-0123456789abcdef"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

Factory = Callable[..., Any]


def pg_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


async def migrate(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


@asynccontextmanager
async def scratch_database(kind: str, tmp_dir: Path) -> AsyncIterator[str]:
    """A new empty database: a file for SQLite, a CREATE DATABASE for PostgreSQL."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / f'{uuid.uuid4().hex}.db'}"
        return
    admin = make_url(pg_admin_url())
    name = f"cs_test_{uuid.uuid4().hex[:16]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


_postgres_problem: list[str | None] = []


def postgres_problem() -> str | None:
    """Why the PostgreSQL server of TEST_DATABASE_URL cannot be used (None: it answers).

    Asked once per run. Where PostgreSQL is required (REQUIRE_POSTGRES=1, as in CI), its
    absence fails the run instead of skipping half of it.
    """
    if not _postgres_problem:
        admin = make_url(pg_admin_url())
        dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)

        async def probe() -> None:
            connection = await asyncpg.connect(dsn, timeout=3)
            await connection.close()

        try:
            # In a thread of its own: this may run while the session's event loop is running.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, probe()).result()
            _postgres_problem.append(None)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            where = admin.render_as_string(hide_password=True)
            _postgres_problem.append(f"PostgreSQL at {where} does not answer ({exc})")
    return _postgres_problem[0]


DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
_redis_problem: list[str | None] = []


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS)


def redis_problem() -> str | None:
    """Why the Redis server of TEST_REDIS_URL cannot be used (None: it answers); asked once."""
    if not _redis_problem:
        import redis

        client = redis.Redis.from_url(redis_url(), socket_timeout=3, socket_connect_timeout=3)
        try:
            client.ping()
            _redis_problem.append(None)
        except (OSError, redis.RedisError) as exc:
            _redis_problem.append(f"Redis at {redis_url()} does not answer ({exc})")
        finally:
            client.close()
    return _redis_problem[0]


@pytest.fixture
def redis_settings() -> dict[str, Any]:
    """REDIS_URL and a key prefix of this test's own; skips when Redis is down, unless required."""
    problem = redis_problem()
    if problem is not None:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"{problem}, and REQUIRE_REDIS=1", pytrace=False)
        pytest.skip(problem)
    return {"redis_url": redis_url(), "redis_key_prefix": f"test:{uuid.uuid4().hex[:12]}:"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `any_database` do not depend on the database: they run on SQLite only."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("db_kind") == "postgresql"
        (dropped if on_postgres and item.get_closest_marker("any_database") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if kind == "postgresql":
        problem = postgres_problem()
        if problem is not None:
            if os.environ.get("REQUIRE_POSTGRES") == "1":
                pytest.fail(f"{problem}, and REQUIRE_POSTGRES=1", pytrace=False)
            pytest.skip(problem)
    return kind


@pytest.fixture(scope="session")
async def database_url(
    db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    async with scratch_database(db_kind, tmp_path_factory.mktemp("db")) as url:
        await migrate(url)
        yield url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "fastapi_jwt_secret": TEST_SECRET,
        "database_url": database_url,
        "llm_provider": "local",
        "cors_origins": [],
        "jwt_audience": None,
        "jwt_issuer": None,
        "jwt_require_jti": False,
        "store_document_content": False,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run, behind httpx's ASGI transport."""
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            scope["state"] = dict(state or {})
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_client(settings) as client:
        yield client


def sign(claims: dict[str, Any], secret: str = TEST_SECRET, **kwargs: Any) -> str:
    token: str = jwt.encode(claims, secret, **kwargs)
    return token


def claims_for(org: str | None = None, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": f"user-{uuid.uuid4().hex[:8]}",
        "org": org or f"org-{uuid.uuid4().hex[:8]}",
        "role": "analyst",
        "iat": now,
        "exp": now + 120,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


@pytest.fixture
def token() -> Factory:
    """Mint a valid token, like the Next.js side does; keyword arguments override claims."""

    def mint(**overrides: Any) -> str:
        return sign(claims_for(**overrides))

    return mint


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[str]:
    """The app on a real uvicorn server in this process and loop: real sockets, real streaming."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    def started() -> bool:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during startup")
        return server.started

    await eventually(started, within=60, what="the in-process server's start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def upstream(openai_server: OpenAIServer) -> OpenAIServer:
    """The OpenAI-compatible test server, with no scripts left over from another test."""
    openai_server.reset()
    return openai_server


def openai_settings(database_url: str, server: OpenAIServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_provider": "openai",
        "openai_base_url": server.base_url,
        "openai_api_key": "test-key",
        "llm_max_retries": 0,
        "llm_timeout_seconds": 10.0,
    }
    values.update(overrides)
    return make_settings(database_url, **values)
