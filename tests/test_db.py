"""The engine: SQLite's pool skips the reset rollback only when no transaction is open; the start
row's commit does not wait for the disk on either database; a write before the first token that
fails is a 503 that quotes nothing, and its connection is not pooled again."""

import logging
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.analyses.repository import ANALYSES, Limits, start_analysis
from app.db import create_engine
from app.errors import AppError
from app.schemas import AnalyseRequest, TokenPayload
from tests.conftest import Factory, bearer, make_settings, running_client


async def start(engine: AsyncEngine, document: str, *, store_content: bool = True) -> uuid.UUID:
    """A start row for a fresh organisation, under limits it is far from."""
    return await start_analysis(
        engine,
        user=TokenPayload(sub="s", org=f"org-{uuid.uuid4().hex[:8]}", role="analyst", exp=2**31),
        body=AnalyseRequest(content=document, document_type="contract"),
        provider="local",
        model="m",
        request_id=None,
        store_content=store_content,
        limits=Limits(10, 10, 300),
    )


async def test_a_connection_returned_inside_a_transaction_is_rolled_back(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}")
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        connection = await engine.connect()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        # A transaction the pool does not know about, left open at check-in.
        await driver.execute("BEGIN")
        await driver.execute("INSERT INTO t VALUES (1)")
        assert driver.in_transaction
        await connection.close()
        async with engine.connect() as again:
            assert (await again.get_raw_connection()).driver_connection is driver
            assert not driver.in_transaction
            count = (await again.exec_driver_sql("SELECT count(*) FROM t")).scalar()
        assert count == 0
    finally:
        await engine.dispose()


async def test_the_start_row_commits_without_waiting_for_the_disk(database_url: str) -> None:
    """The model call waits for the start row; its commit must not wait for a WAL flush (or a
    synchronous standby). The same durability on both databases: consistent after a crash, the
    last moments' commits may be lost. Nothing else changes its setting."""
    engine = create_engine(database_url)
    try:
        show = "SELECT current_setting('synchronous_commit')"
        sqlite = engine.dialect.name == "sqlite"
        async with engine.connect() as connection:
            if sqlite:
                assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
                # 1 = NORMAL: in WAL mode a commit does not sync the disk.
                assert (await connection.exec_driver_sql("PRAGMA synchronous")).scalar() == 1
            else:
                assert (await connection.exec_driver_sql(show)).scalar() == "on"
                # Inside the function's own transaction, the setting is off...
                await connection.exec_driver_sql(
                    "SELECT * FROM start_analysis_within_limits("
                    "p_id => gen_random_uuid(), p_org => 'durability-probe', p_sub => 's', "
                    "p_document_type => 'contract', p_content_sha256 => 'x', "
                    "p_content_chars => 1, p_content => NULL, p_provider => 'local', "
                    "p_model => 'm', p_request_id => NULL, p_created_at => now(), "
                    "p_live_since => now() - interval '1 hour', "
                    "p_window_start => now() - interval '1 minute', p_max_streaming => 10, "
                    "p_max_per_minute => 10)"
                )
                assert (await connection.exec_driver_sql(show)).scalar() == "off"
                await connection.rollback()
                # ... and only there.
                assert (await connection.exec_driver_sql(show)).scalar() == "on"
        analysis_id = await start(
            engine, "The supplier may terminate at any time.", store_content=False
        )
        async with engine.connect() as connection:
            if not sqlite:
                assert (await connection.exec_driver_sql(show)).scalar() == "on"
            status = select(ANALYSES.c.status).where(ANALYSES.c.id == analysis_id)
            assert (await connection.execute(status)).scalar() == "streaming"
    finally:
        await engine.dispose()


async def test_a_failed_start_is_a_503_and_its_connection_is_not_pooled_again(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The start row is written through the driver's own connection: a driver error is a 503
    that names only the error's class, and the connection it failed on is dropped."""
    engine = create_engine(database_url)
    document = "The supplier may terminate at any time. SECRET-CLAUSE-TEXT"
    read_only = (
        "PRAGMA query_only = ON"
        if engine.dialect.name == "sqlite"
        else "SET default_transaction_read_only = on"
    )
    try:
        async with engine.connect() as connection:
            # The pool's only connection now refuses every write.
            await connection.exec_driver_sql(read_only)
            await connection.commit()
        caplog.set_level(logging.INFO)
        with pytest.raises(AppError) as refused:
            await start(engine, document)
        assert refused.value.failure.status_code == 503
        assert refused.value.failure.code == "database_unavailable"
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors
        assert all("SECRET" not in e and "supplier" not in e for e in errors)
        assert errors[-1].endswith(("OperationalError", "ReadOnlySQLTransactionError"))
        # A new connection: the write goes through.
        analysis_id = await start(engine, document)
        async with engine.connect() as connection:
            row = (
                await connection.execute(select(ANALYSES).where(ANALYSES.c.id == analysis_id))
            ).one()
        assert row.status == "streaming"
        assert row.content == document
        assert row.content_chars == len(document)
        assert row.created_at.tzinfo is not None
    finally:
        await engine.dispose()


PROBES = {
    "sqlite": (
        [
            "CREATE TRIGGER probe_analyses BEFORE INSERT ON analyses "
            "WHEN NEW.content LIKE '%SECRET%' BEGIN SELECT RAISE(ABORT, 'refused'); END",
            "CREATE TRIGGER probe_jtis BEFORE INSERT ON used_jtis "
            "WHEN NEW.jti LIKE 'refused-%' BEGIN SELECT RAISE(ABORT, 'refused'); END",
        ],
        ["DROP TRIGGER IF EXISTS probe_analyses", "DROP TRIGGER IF EXISTS probe_jtis"],
    ),
    # SQLite quotes no value in its errors; a CHECK violation's DETAIL on PostgreSQL quotes the
    # whole row, the document with it.
    "postgresql": (
        [
            "ALTER TABLE analyses ADD CONSTRAINT probe_analyses "
            "CHECK (content IS NULL OR content NOT LIKE '%SECRET%') NOT VALID",
            "ALTER TABLE used_jtis ADD CONSTRAINT probe_jtis "
            "CHECK (jti NOT LIKE 'refused-%') NOT VALID",
        ],
        [
            "ALTER TABLE analyses DROP CONSTRAINT IF EXISTS probe_analyses",
            "ALTER TABLE used_jtis DROP CONSTRAINT IF EXISTS probe_jtis",
        ],
    ),
}


async def test_a_write_the_database_refuses_is_a_503_that_quotes_nothing(
    database_url: str, token: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    """The database's refusal quotes the document (or the token id): the 503 and the log line
    name the driver's error class only."""
    engine = create_engine(database_url)
    create, drop = PROBES[engine.dialect.name]
    document = "The supplier may terminate at any time. SECRET-CLAUSE-TEXT"
    try:
        async with engine.begin() as connection:
            for statement in create:
                await connection.exec_driver_sql(statement)
        caplog.set_level(logging.INFO)
        with pytest.raises(AppError) as refused:
            await start(engine, document)
        assert refused.value.failure.code == "database_unavailable"
        async with running_client(make_settings(database_url)) as client:
            response = await client.get(
                "/v1/me", headers=bearer(token(jti=f"refused-{uuid.uuid4().hex}"))
            )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "database_unavailable"
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "SECRET" not in logged
        assert "refused-" not in logged
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors[0] == "could not record the analysis: " + (
            "IntegrityError" if engine.dialect.name == "sqlite" else "CheckViolationError"
        )
    finally:
        async with engine.begin() as connection:
            for statement in drop:
                await connection.exec_driver_sql(statement)
        await engine.dispose()
