import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import alembic_config, scratch_database
from tests.service_process import ROOT, clean_env


async def tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def functions(url: str) -> set[str]:
    if not url.startswith("postgresql"):
        return set()
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        query = "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        names = set((await conn.execute(text(query))).scalars())
    await engine.dispose()
    return names


async def test_upgrade_downgrade_upgrade_and_check(db_kind: str, tmp_path: Path) -> None:
    async with scratch_database(db_kind, tmp_path) as url:
        cfg = alembic_config(url)
        await asyncio.to_thread(command.upgrade, cfg, "head")
        assert await tables(url) == {"analyses", "used_jtis"}
        postgresql = url.startswith("postgresql")
        assert await functions(url) == ({"start_analysis_within_limits"} if postgresql else set())
        await asyncio.to_thread(command.downgrade, cfg, "base")
        assert await tables(url) == set()
        assert await functions(url) == set()
        await asyncio.to_thread(command.upgrade, cfg, "head")
        # Raises when the models and the migrations disagree.
        await asyncio.to_thread(command.check, cfg)


@pytest.mark.process
def test_migrations_need_only_the_database_url(tmp_path: Path) -> None:
    # The migration job runs with APP_ENV=production and no JWT secret or model settings.
    url = f"sqlite+aiosqlite:///{tmp_path / 'job.db'}"
    env = clean_env(APP_ENV="production", DATABASE_URL=url)
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Running upgrade  -> 0001" in result.stderr
