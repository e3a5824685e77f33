import os
import subprocess
import sys

import pytest

from app.config import DEV_JWT_SECRET, ConfigError, Settings, load_settings
from tests.conftest import ROOT

STRONG = "s" * 32


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith(
            ("APP_", "FASTAPI_", "CORS_", "JWT_", "DATABASE_", "LLM_", "OPENAI_", "AZURE_")
        ):
            monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "FASTAPI_JWT_SECRET is required"),
        ({"FASTAPI_JWT_SECRET": "short"}, "at least 32 bytes"),
        ({"FASTAPI_JWT_SECRET": DEV_JWT_SECRET}, "development secret"),
        ({"FASTAPI_JWT_SECRET": STRONG, "CORS_ORIGINS": "https://a.example,*"}, "'*'"),
    ],
)
def test_production_refuses_insecure_settings(
    env: dict[str, str], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        settings_from({"APP_ENV": "production", **env}, monkeypatch)
    assert "\n" not in str(caught.value)


def test_production_accepts_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        {
            "APP_ENV": "production",
            "FASTAPI_JWT_SECRET": STRONG,
            "CORS_ORIGINS": "https://app.example.com, https://preview.example.com",
        },
        monkeypatch,
    )
    assert settings.jwt_secret == STRONG
    assert settings.cors_origins == ["https://app.example.com", "https://preview.example.com"]
    assert not settings.uses_dev_secret


def test_development_falls_back_to_the_dev_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from({"APP_ENV": "development"}, monkeypatch)
    assert settings.uses_dev_secret
    assert settings.database_url == "sqlite+aiosqlite:///./compliance.db"
    assert settings.jwt_leeway_seconds == 10
    assert settings.jwt_max_lifetime_seconds == 300
    assert settings.cors_origins == []


def test_invalid_values_are_reported_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="jwt_leeway_seconds") as caught:
        settings_from({"JWT_LEEWAY_SECONDS": "lots"}, monkeypatch)
    assert "\n" not in str(caught.value)


@pytest.mark.process
def test_service_refuses_to_start_with_a_one_line_reason() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTAPI_")}
    env.update(APP_ENV="production", FASTAPI_JWT_SECRET="too-short")
    result = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3  # uvicorn's startup-failure code: no respawn loop
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "refusing to start" in lines[0]
    assert "32 bytes" in lines[0]


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"LLM_PROVIDER": "openai"}, "OPENAI_API_KEY"),
        ({"LLM_PROVIDER": "azure", "AZURE_OPENAI_API_KEY": "k"}, "AZURE_OPENAI_ENDPOINT"),
        ({"LLM_PROVIDER": "mistral"}, "llm_provider"),
    ],
)
def test_incomplete_model_settings_are_refused(
    env: dict[str, str], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=reason):
        settings_from(env, monkeypatch)
