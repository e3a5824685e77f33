"""`python -m app.serve` with `--workers N`: the pre-fork supervisor of the image's command."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devtools.processes import ROOT, clean_env, free_port
from devtools.waiting import eventually
from tests.conftest import TEST_SECRET, migrate
from tests.service_process import ServiceProcess
from tests.test_startup import run_probe

# What the supervisor holds when it forks: the modules, and no thread, not even a native one (NumPy's
# OpenBLAS starts one per core unless told otherwise); the collector back on, with the imported
# objects frozen out of its reach.
PROBE = """
import gc, os, sys
from app.config import load_settings
from app.serve import preload
preload(load_settings())
watched = ("fastapi", "sqlalchemy", "app.application", "app.main", "openai", "langchain_openai",
           "langchain_core", "langsmith", "httpx2", "app.analyzer", "numpy")
frozen = "frozen" if gc.isenabled() and gc.get_freeze_count() > 100_000 else "not-frozen"
loaders = ("app.analyzer.tos_model", "app.analyzer.contract_model")
models = "models-read" if all(
    name in sys.modules and sys.modules[name].load.cache_info().currsize for name in loaders
) else "no-models"
names = " ".join(sorted(n for n in watched if n in sys.modules))
print(len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd")), frozen, models, names)
"""


def preloaded(provider: str, tmp_path: Path) -> tuple[int, set[str]]:
    threads, files, frozen, models, *names = run_probe(PROBE, provider, tmp_path).split()
    assert frozen == "frozen"
    # The offline analyzer's models are read before the fork (shared by the workers); no file
    # stays open (0-2 and the listing's own descriptor).
    assert models == ("models-read" if provider == "local" else "no-models")
    assert int(files) <= 4
    return int(threads), set(names)


@pytest.mark.process
def test_the_supervisor_preloads_the_offline_analyzer_and_no_model_client(
    tmp_path: Path,
) -> None:
    threads, loaded = preloaded("local", tmp_path)
    assert threads == 1
    assert {"fastapi", "sqlalchemy", "app.application", "app.main", "app.analyzer"} <= loaded
    assert not loaded & {"openai", "langchain_openai", "langchain_core", "langsmith", "httpx2"}


@pytest.mark.process
def test_the_supervisor_preloads_the_openai_client_and_no_analyzer(tmp_path: Path) -> None:
    threads, loaded = preloaded("openai", tmp_path)
    assert threads == 1
    assert {"fastapi", "sqlalchemy", "app.application", "openai", "langchain_openai"} <= loaded
    assert not loaded & {"app.analyzer", "numpy"}


def children_of(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


@pytest.mark.process
async def test_workers_are_forked_and_a_dead_one_is_replaced(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/serve.db"
    await migrate(database_url)
    env = clean_env(APP_ENV="test", FASTAPI_JWT_SECRET=TEST_SECRET, DATABASE_URL=database_url)
    with ServiceProcess(env, tmp_path / "service.log", ("--workers", "2")) as service:
        assert service.process is not None
        supervisor = service.process.pid
        workers = children_of(supervisor)
        assert len(workers) == 2, service.output()
        for worker in workers:
            # Forked, not spawned: the same command line as the supervisor's.
            cmdline = Path(f"/proc/{worker}/cmdline").read_bytes()
            assert cmdline == Path(f"/proc/{supervisor}/cmdline").read_bytes()
        # Both serving before one is killed: one killed while it starts never says it started.
        await eventually(
            lambda: service.output().count("Application startup complete.") == 2,
            within=60,
            what="both workers serving",
        )
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(children_of(supervisor) - {victim}) < 2:
            assert time.monotonic() < deadline, service.output()
            time.sleep(0.1)
        service.wait_ready()
        code = service.stop(signal.SIGTERM, 30)
        output = service.output()
    assert f"Child process [{victim}] died" in output, output
    assert output.count("Started server process") == 3, output
    assert "Received SIGTERM, exiting." in output, output
    assert output.count("Finished server process") == 2, output
    assert code == 0, output


@pytest.mark.process
def test_a_worker_that_cannot_start_stops_the_supervisor_with_exit_3(tmp_path: Path) -> None:
    env = clean_env(
        APP_ENV="test",
        FASTAPI_JWT_SECRET=TEST_SECRET,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/unused.db",
    )
    args = ["app.main:app", "--port", str(free_port()), "--workers", "2"]
    result = subprocess.run(
        [sys.executable, "-m", "app.serve", *args, "--http", "app.no_such_module:Protocol"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert "failed to start, stopping the parent process" in result.stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{args[2]}/health", timeout=1)
