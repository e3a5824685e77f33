"""The two services under test: the article's reference and the product, each one uvicorn process."""

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.processes import ROOT, python, spawn, stop, wait_status
from devtools.processes import clean_env, free_port

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
UVICORN_FLAGS = ("--loop", "uvloop", "--http", "httptools")
PRODUCT_LIMITS = {"ORG_MAX_CONCURRENT_STREAMS": "1000", "USER_REQUESTS_PER_MINUTE": "30"}


@dataclass(frozen=True, slots=True)
class App:
    name: str
    target: str
    ready_path: str
    env: dict[str, str]
    cwd: Path = ROOT

    @property
    def is_product(self) -> bool:
        return self.target.startswith("app.")


def reference_app(upstream_url: str) -> App:
    env = clean_env(OPENAI_BASE_URL=upstream_url, OPENAI_API_KEY="x", FASTAPI_JWT_SECRET=SECRET)
    return App("reference", "bench.reference_article:app", "/health", env)


def product_app(
    name: str, upstream_url: str, database_url: str, workdir: Path, source: Path = ROOT
) -> App:
    """The product as its container runs it, from the checkout at `source`."""
    metrics_dir = workdir / f"prometheus-{name}"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env = clean_env(
        APP_ENV="production",
        FASTAPI_JWT_SECRET=SECRET,
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL=upstream_url,
        OPENAI_API_KEY="x",
        DATABASE_URL=database_url,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        **PRODUCT_LIMITS,
    )
    return App(name, "app.main:app", "/ready", env, source)


def migrate(app: App, log: Path) -> None:
    with log.open("ab") as out:
        subprocess.run(
            python("-m", "alembic", "upgrade", "head"),
            env=app.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            cwd=app.cwd,
        )


class Service:
    """`uvicorn <target> --workers N` on a free port, its output in `log`."""

    def __init__(self, app: App, log: Path, workers: int = 1) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        args = ["-m", "uvicorn", app.target, "--host", "127.0.0.1", "--port", str(self.port)]
        self.started_at = time.monotonic()
        self.process = spawn(
            python(*args, "--workers", str(workers), *UVICORN_FLAGS),
            app.env,
            self._log,
            cwd=app.cwd,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, path: str, timeout: float = 60.0) -> float:
        """Seconds from the process start until `path` answers 200."""
        return wait_status(self.process, self.port, path, timeout, self.started_at)

    def close(self) -> None:
        stop(self.process)
        self._log.close()
