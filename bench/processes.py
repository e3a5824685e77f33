"""Child processes of the benchmark: each in its own session, all killed on exit or Ctrl-C."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import IO

from devtools.processes import ROOT

_children: list[subprocess.Popen[bytes]] = []


Output = int | IO[bytes] | None


def spawn(
    args: list[str],
    env: dict[str, str] | None = None,
    stdout: Output = None,
    stderr: Output = subprocess.STDOUT,
    stdin: Output = None,
    cwd: Path = ROOT,
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True
    )
    _children.append(process)
    return process


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers."""
    if process in _children:
        _children.remove(process)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout)


def stop_all() -> None:
    for process in reversed(list(_children)):
        stop(process, timeout=5.0)


def exit_on_signals() -> None:
    """Ctrl-C, SIGTERM and SIGHUP unwind the stack, so every `finally` cleans up (also when
    SIGINT was ignored by whoever started us)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(f"interrupted by signal {signum}")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def http_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    """GET over a fresh socket; None while nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n".encode()
            )
            head = sock.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def wait_status(
    process: subprocess.Popen[bytes],
    port: int,
    path: str,
    timeout: float,
    started: float | None = None,
) -> float:
    """Seconds from `started` until `path` answers 200; raises if the process dies or times out."""
    started = time.monotonic() if started is None else started
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        if http_status(port, path) == 200:
            return time.monotonic() - started
        time.sleep(0.01)
    raise TimeoutError(f"{path} on port {port} not 200 within {timeout}s")


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
