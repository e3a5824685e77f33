"""`.env.example` lists every setting with its default, and `compose.yaml` serves the suite's database."""

import re
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from app.config import Settings
from tests.conftest import DEFAULT_PG

ROOT = Path(__file__).resolve().parent.parent
# `NAME=value`, or `# NAME=` for a setting that is unset by default.
LINE = re.compile(r"^(# )?([A-Z][A-Z0-9_]*)=(.*)$")


def env_example() -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := LINE.match(line):
            commented, name, value = match.groups()
            assert name not in values, f"{name} is listed twice"
            assert not (commented and value), f"{line!r}: a commented-out setting has no value"
            values[name] = None if commented else value
    return values


def rendered(default: Any) -> str | None:
    """A default written the way the environment spells it."""
    if default is None:
        return None
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, Enum):
        return str(default.value)
    if isinstance(default, SecretStr):
        return default.get_secret_value()
    if isinstance(default, list):
        return ",".join(default)
    return str(default)


def test_every_setting_is_listed_with_its_default() -> None:
    listed = env_example()
    fields = {name.upper(): field for name, field in Settings.model_fields.items()}
    assert sorted(listed) == sorted(fields), "update .env.example to match app/config.py"
    for name, field in fields.items():
        assert listed[name] == rendered(field.get_default(call_default_factory=True)), name


def test_the_file_loads_as_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = env_example()
    for name in listed:
        monkeypatch.delenv(name, raising=False)
    defaults = Settings().model_dump()
    for name, value in listed.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    assert Settings().model_dump() == defaults


def test_compose_serves_the_database_the_suite_uses() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    db = compose["services"]["db"]
    suite = make_url(DEFAULT_PG)
    assert db["environment"]["POSTGRES_DB"] == suite.database
    assert db["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert f"127.0.0.1:{suite.port}:5432" in db["ports"]
    service_url = make_url(compose["services"]["service"]["environment"]["DATABASE_URL"])
    init = (ROOT / "deploy" / "compose" / "initdb").glob("*.sql")
    assert any(f"CREATE DATABASE {service_url.database};" in p.read_text() for p in init)
