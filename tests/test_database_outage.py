"""A database outage is a 503 `database_unavailable` on every route, never a 500."""

import logging
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from devtools.tcp_proxy import TcpRelay
from tests.conftest import Factory, bearer, live_server, make_settings, migrate

ROUTES = [
    ("GET", "/v1/analyses", None),
    ("GET", f"/v1/analyses/{uuid.uuid4()}", None),
    ("GET", "/v1/me", None),
    ("POST", "/v1/analyse", {"content": "The Supplier may terminate at any time."}),
    ("POST", "/v1/analyse/stream", {"content": "The Supplier may terminate at any time."}),
]


async def answers(base_url: str, token: Factory) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return [
            # A `jti` on every token: its single-use check is a database write too.
            await client.request(
                method, path, json=body, headers=bearer(token(jti=uuid.uuid4().hex))
            )
            for method, path, body in ROUTES
        ]


def assert_unavailable(responses: list[httpx.Response]) -> None:
    for response in responses:
        assert response.status_code == 503, (response.request.url, response.text)
        assert response.headers["retry-after"]
        error = response.json()["error"]
        assert error["code"] == "database_unavailable"
        assert error["request_id"] == response.headers["x-request-id"]
        assert error["retryable"] is True


@pytest.mark.postgres
async def test_postgresql_stopping_mid_run_is_a_503_everywhere(
    token: Factory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import postgres_problem, scratch_database

    if (problem := postgres_problem()) is not None:
        pytest.skip(problem)
    async with scratch_database("postgresql", tmp_path) as url:
        await migrate(url)
        real = make_url(url)
        async with (
            TcpRelay(real.host or "127.0.0.1", real.port or 5432) as relay,
            live_server(
                make_settings(real.set(port=relay.port).render_as_string(hide_password=False))
            ) as base_url,
        ):
            before = await answers(base_url, token)
            assert [r.status_code for r in before[:3]] == [200, 404, 200]
            await relay.stop()
            caplog.clear()
            caplog.set_level(logging.INFO)
            assert_unavailable(await answers(base_url, token))
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == len(ROUTES), [r.getMessage() for r in errors]
            assert not any(r.exc_info for r in errors)
            await relay.start()
            # A pooled connection that died with the server fails once, then is replaced.
            await answers(base_url, token)
            after = await answers(base_url, token)
            assert [r.status_code for r in after[:3]] == [200, 404, 200]


async def test_an_unopenable_sqlite_file_is_a_503_everywhere(
    token: Factory, tmp_path: Path
) -> None:
    # A directory where the database file should be: SQLite cannot open it.
    (tmp_path / "compliance.db").mkdir()
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'compliance.db'}")
    async with live_server(settings) as base_url:
        assert_unavailable(await answers(base_url, token))
