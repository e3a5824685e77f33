"""The OpenAI-compatible upstream (devtools/openai_server.py) as its own process, scripted over HTTP."""

import subprocess
from typing import Any

import httpx

from bench.processes import python, spawn, stop


class Upstream:
    def __init__(self) -> None:
        self.process = spawn(
            python("devtools/openai_server.py", "--port", "0", "--record"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            stop(self.process)
            raise RuntimeError(f"the upstream did not start: {line!r}")
        self.base_url = line  # ends with /v1
        self.control_url = line.removesuffix("/v1")
        self._control = httpx.Client(base_url=self.control_url, timeout=10)

    def script(self, tokens: list[str], delay: float = 0.0, first_token_delay: float = 0.0) -> None:
        self._control.post("/_reset").raise_for_status()
        body: dict[str, Any] = {
            "tokens": tokens,
            "delay": delay,
            "first_token_delay": first_token_delay,
        }
        self._control.post("/_script", json=body).raise_for_status()

    def queue(self, tokens: list[str], delay: float = 0.0, first_token_delay: float = 0.0) -> None:
        """The answer to the next request (after those queued before it)."""
        body = {"tokens": tokens, "delay": delay, "first_token_delay": first_token_delay}
        self._control.post("/_queue", json=body).raise_for_status()

    def reset(self) -> None:
        self._control.post("/_reset").raise_for_status()

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._control.get("/_stats").json()
        return stats

    def close(self) -> None:
        self._control.close()
        stop(self.process)
