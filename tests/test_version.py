"""One version: pyproject.toml's, reported by /health and the OpenAPI document, first in the CHANGELOG."""

import re
import tomllib
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.any_database

ROOT = Path(__file__).resolve().parent.parent


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


async def test_health_and_openapi_report_the_project_version(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert health.json() == {"status": "ok", "version": project_version()}
    assert (await client.get("/openapi.json")).json()["info"]["version"] == project_version()


def test_the_changelog_opens_with_this_version() -> None:
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert releases[0] == project_version()
    assert len(releases) == len(set(releases))
