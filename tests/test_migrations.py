import asyncio
from pathlib import Path

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import alembic_config, scratch_database


async def tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def test_upgrade_downgrade_upgrade_and_check(db_kind: str, tmp_path: Path) -> None:
    async with scratch_database(db_kind, tmp_path) as url:
        cfg = alembic_config(url)
        await asyncio.to_thread(command.upgrade, cfg, "head")
        assert await tables(url) == {"analyses", "used_jtis"}
        await asyncio.to_thread(command.downgrade, cfg, "base")
        assert await tables(url) == set()
        await asyncio.to_thread(command.upgrade, cfg, "head")
        # Raises when the models and the migrations disagree.
        await asyncio.to_thread(command.check, cfg)
