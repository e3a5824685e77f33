"""The real service in a subprocess, started as the image starts it (`python -m app.serve`),
for tests that need a real server and real sockets."""

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from devtools.processes import ROOT, clean_env, free_port


def openai_env(database_url: str, base_url: str, secret: str, **overrides: str) -> dict[str, str]:
    """The service on a test database, talking to the OpenAI-compatible test server."""
    return clean_env(
        APP_ENV="test",
        FASTAPI_JWT_SECRET=secret,
        DATABASE_URL=database_url,
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="test-key",
        **overrides,
    )


class ServiceProcess:
    def __init__(
        self, env: dict[str, str], log_path: Path, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.args = [
            sys.executable,
            "-m",
            "app.serve",  # the image's launcher: with --workers N, the pre-fork supervisor
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *extra_args,
        ]
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "ServiceProcess":
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                time.sleep(0.05)
        raise TimeoutError(f"service not healthy in {timeout}s:\n{self.output()}")

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while httpx.get(f"{self.base_url}/ready", timeout=5.0).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"service not ready in {timeout}s:\n{self.output()}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if not self._log.closed:
            self._log.close()
