import httpx
import pytest

from app.version import service_version
from devtools.waiting import eventually
from tests.conftest import make_settings, running_client


@pytest.mark.any_database
async def test_health_is_immediate_and_needs_no_auth(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": service_version()}
    assert response.headers["x-request-id"]


async def test_ready_checks_the_database_and_the_model(client: httpx.AsyncClient) -> None:
    # The model is built in the background after startup: loading first, then ready.
    async def ready() -> httpx.Response | None:
        response = await client.get("/ready")
        if response.status_code == 200:
            return response
        assert response.json() == {"status": "unavailable", "database": "ok", "model": "loading"}
        return None

    response = await eventually(ready, within=30, what="/ready")
    assert response.json() == {"status": "ready", "database": "ok", "model": "ok"}


async def test_ready_is_503_when_the_database_is_down() -> None:
    # Nothing listens on port 1: the connection is refused at once.
    settings = make_settings(
        "postgresql+asyncpg://postgres@127.0.0.1:1/test", db_ready_timeout_seconds=1.0
    )
    async with running_client(settings) as client:
        response = await client.get("/ready")
        assert response.status_code == 503
        assert response.json()["database"] == "down"
        assert (await client.get("/health")).status_code == 200


@pytest.mark.any_database
async def test_request_id_is_taken_when_sane_and_replaced_otherwise(
    client: httpx.AsyncClient,
) -> None:
    given = "req-1234567890abcdef"
    response = await client.get("/health", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given
    response = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32


@pytest.mark.any_database
async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
