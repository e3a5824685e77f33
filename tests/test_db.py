"""The engine's pool: SQLite skips the reset rollback only when no transaction is open."""

from pathlib import Path

from app.db import create_engine


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
