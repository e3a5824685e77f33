"""The service as a user runs it: a real uvicorn process, a token from the CLI, curl-like calls."""

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, migrate
from tests.service_process import ServiceProcess, clean_env


@pytest.mark.process
async def test_run_token_and_me_like_the_readme(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'compliance.db'}"
    await migrate(url)
    # No secret configured: development mode, where the server and `make token` share
    # the built-in dev secret.
    env = clean_env(DATABASE_URL=url)
    token = subprocess.run(
        [sys.executable, "-m", "app.cli", "token", "--sub", "u1", "--org", "o1", "--role", "r"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    with ServiceProcess(env, tmp_path / "server.log") as service:
        await asyncio.to_thread(service.wait_ready)
        async with httpx.AsyncClient(base_url=service.base_url) as client:
            me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200
            assert me.json() == {"sub": "u1", "org": "o1", "role": "r"}
            refused = await client.get("/v1/me")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert service.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
        log = service.output()
    assert "Application shutdown complete" in log
    assert "DEVELOPMENT secret" in log
    assert "GET /v1/me" in log
    assert "GET /health" not in log
    assert "GET /ready" not in log
    assert token not in log


@pytest.mark.process
def test_importing_the_app_performs_no_io(tmp_path: Path) -> None:
    probe = """
import sys
seen = []
def hook(event, args):
    if event.startswith(("socket.", "sqlite3.", "subprocess.")) or (
        event == "open" and isinstance(args[0], str) and args[1] not in (None, "r", "rb")
    ):
        seen.append(event)
sys.addaudithook(hook)
import app.main
import app.application
assert not seen, seen
print("clean")
"""
    unreachable = "postgresql+asyncpg://nobody@203.0.113.1:5432/none"
    env = clean_env(DATABASE_URL=unreachable, LLM_PROVIDER="openai", OPENAI_API_KEY="unused")
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
    assert not list(tmp_path.iterdir())
