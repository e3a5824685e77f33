import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.config import DEV_JWT_SECRET, ConfigError, Settings, load_settings
from tests.conftest import ROOT, TEST_SECRET, make_settings, running_client
from tests.service_process import clean_env, free_port

STRONG = "9f1c2e7a4b8d3f60a5c1e9b27d4f8a3c"


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
        ({"FASTAPI_JWT_SECRET": " " * 32}, "is required"),
        ({"FASTAPI_JWT_SECRET": "\t\n " * 12}, "is required"),
        ({"FASTAPI_JWT_SECRET": f" {STRONG}"}, "whitespace"),
        ({"FASTAPI_JWT_SECRET": f"{STRONG}\n"}, "whitespace"),
        ({"FASTAPI_JWT_SECRET": "a" * 32}, "too predictable"),
        ({"FASTAPI_JWT_SECRET": "ab" * 40}, "too predictable"),
        ({"FASTAPI_JWT_SECRET": "0123456700112233445566770123"}, "at least 32 bytes"),
        ({"FASTAPI_JWT_SECRET": "01234567" * 8}, "too predictable"),
        ({"FASTAPI_JWT_SECRET": STRONG, "CORS_ORIGINS": "https://a.example,null"}, "'null'"),
        ({"FASTAPI_JWT_SECRET": STRONG, "METRICS_ALLOW": "0.0.0.0/0"}, "METRICS_ALLOW_PUBLIC"),
        ({"FASTAPI_JWT_SECRET": STRONG, "METRICS_ALLOW": "10.0.0.0/8,::/0"}, "::/0"),
        ({"FASTAPI_JWT_SECRET": STRONG, "METRICS_ALLOW": "8.8.8.0/24"}, "8.8.8.0/24"),
        ({"FASTAPI_JWT_SECRET": STRONG, "METRICS_ALLOW": "10.0.0.0/7"}, "10.0.0.0/7"),
        ({"FASTAPI_JWT_SECRET": STRONG, "JWT_MAX_LIFETIME_SECONDS": "31536000"}, "at most 900"),
        ({"FASTAPI_JWT_SECRET": STRONG, "JWT_MAX_LIFETIME_SECONDS": "901"}, "at most 900"),
    ],
)
def test_production_refuses_insecure_settings(
    env: dict[str, str], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        settings_from({"APP_ENV": "production", **env}, monkeypatch)
    assert "\n" not in str(caught.value)


def test_production_accepts_private_metrics_networks_and_forced_public_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private = (
        "127.0.0.1/32,::1/128,10.40.0.0/23,172.16.0.0/12,192.168.1.0/24,100.100.0.0/16,fd00::/8"
    )
    base = {"APP_ENV": "production", "FASTAPI_JWT_SECRET": STRONG}
    assert len(settings_from({**base, "METRICS_ALLOW": private}, monkeypatch).metrics_allow) == 7
    forced = {**base, "METRICS_ALLOW": "0.0.0.0/0", "METRICS_ALLOW_PUBLIC": "true"}
    assert settings_from(forced, monkeypatch).metrics_allow == ["0.0.0.0/0"]
    lifetime = {**base, "JWT_MAX_LIFETIME_SECONDS": "900"}
    assert settings_from(lifetime, monkeypatch).jwt_max_lifetime_seconds == 900


@pytest.mark.any_database
@pytest.mark.parametrize(
    ("app_env", "api_docs", "served"),
    [
        ("production", None, False),
        ("production", True, True),
        ("test", None, True),
        ("test", False, False),
    ],
)
async def test_docs_are_off_in_production_unless_enabled(
    database_url: str, app_env: str, api_docs: bool | None, served: bool
) -> None:
    settings = make_settings(database_url, app_env=app_env, api_docs=api_docs)
    async with running_client(settings) as client:
        for path in ("/openapi.json", "/docs"):
            response = await client.get(path)
            assert response.status_code == (200 if served else 404), (path, response.text)


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
        (
            {
                "LLM_PROVIDER": "azure",
                "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
                "AZURE_OPENAI_AUTH": "key",
            },
            "AZURE_OPENAI_API_KEY",
        ),
        ({"AZURE_OPENAI_AUTH": "certificate"}, "azure_openai_auth"),
        ({"LLM_PROVIDER": "mistral"}, "llm_provider"),
    ],
)
def test_incomplete_model_settings_are_refused(
    env: dict[str, str], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=reason):
        settings_from(env, monkeypatch)


@pytest.mark.process
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_refused_configuration_exits_3_under_any_worker_count(workers: str) -> None:
    env = clean_env(APP_ENV="production", FASTAPI_JWT_SECRET="a" * 32)
    port = str(free_port())
    args = ["app.main:app", "--port", port, "--workers", workers, "--http", "httptools"]
    result = subprocess.run(
        [sys.executable, "-m", "app.serve", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("refusing to start:")
    assert "too predictable" in lines[0]


@pytest.mark.process
@pytest.mark.slow
def test_the_launcher_runs_uvicorn_with_two_workers(tmp_path: Path) -> None:
    env = clean_env(
        APP_ENV="production",
        FASTAPI_JWT_SECRET=TEST_SECRET,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
    )
    port = free_port()
    args = ["app.main:app", "--port", str(port), "--workers", "2", "--http", "httptools"]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.serve", *args], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=120).status_code == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert output.count("Started server process") == 2, output
