"""Replay the Dockerfile without Docker, then run the image's command and check it serves.

    uv run python -m scripts.container_smoke        # or: make container-smoke

The Dockerfile is parsed (FROM, WORKDIR, ENV, COPY, RUN, USER, EXPOSE, HEALTHCHECK, CMD) and
replayed stage by stage in a temporary directory that stands for the image's file system:

- the build context is the working tree filtered by .dockerignore, so the image gets only what
  COPY takes from it, and a file the image lacks makes the replay fail;
- `uv sync ...` runs exactly as written, with the stage's ENV, into a fresh virtual environment
  made by `uv venv` with this machine's Python (the image has python:3.12-slim; the replay
  uses the interpreter running it, 3.11 here, against the same uv.lock);
- `python -m compileall ...` and `python -m app.analyzer` (the learned models compiled to
  `.npz`, with the venv's Python) run as written; `pip install uv==X` is checked, not run (the
  machine's uv stands in); user creation is skipped (the replay runs as the current user); any
  other RUN is refused, so a new Dockerfile step must be taught to the replay;
- `COPY --from=<stage> P P` links the earlier stage's P, so the venv keeps its absolute paths.

Then, with the final stage's ENV (its container paths mapped into the replay) plus the
deployment's settings, it runs `alembic upgrade head` on a scratch SQLite database and the
exact CMD (only `--host` and `--port` changed), waits for /health and /ready, runs the
HEALTHCHECK command, streams one analysis, and stops the server with SIGTERM the way the
platform does.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import httpx

from devtools.processes import ROOT, free_port
from scripts.dockerfile import (
    BASE_IMAGE_ENV,
    Instruction,
    Recipe,
    ReplayError,
    build_context,
    expand,
    load_recipe,
    parse_env,
    seconds,
)

# The migration step, run once per release (an Azure Container Apps job, deploy/azure/).
MIGRATE_COMMAND = ("alembic", "upgrade", "head")
# Azure Container Apps' default termination grace (terminationGracePeriodSeconds).
PLATFORM_GRACE_SECONDS = 30.0

SYSTEM_BIN_DIRS = {"/usr/local/bin", "/usr/local/sbin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}
# Host variables that describe this machine's uv (cache, indexes, TLS, proxies), not the image.
HOST_BUILD_VARS = re.compile(
    r"^(HOME|XDG_CACHE_HOME|XDG_CONFIG_HOME|UV_CACHE_DIR|UV_INDEX.*|UV_DEFAULT_INDEX|UV_EXTRA_INDEX_URL|UV_FIND_LINKS|UV_OFFLINE"
    r"|UV_NATIVE_TLS|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|(?i:https?_proxy|no_proxy))$"
)


def base_python() -> str:
    """The real interpreter behind this process (not a venv's python)."""
    candidate = Path(getattr(sys, "_base_executable", sys.executable))
    if (Path(sys.base_prefix) / "bin" / candidate.name).exists():
        candidate = Path(sys.base_prefix) / "bin" / candidate.name
    return str(candidate)


def uv_executable() -> list[str]:
    """The uv running us (`uv run` sets $UV), else the one on PATH, else `python -m uv`."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


@dataclass
class StageFS:
    """One stage's file system: container paths live under `root`, or are linked elsewhere."""

    root: Path
    links: dict[PurePosixPath, Path] = field(default_factory=dict)

    def host(self, container_path: str | PurePosixPath) -> Path:
        path = PurePosixPath(container_path)
        if not path.is_absolute():
            raise ReplayError(f"not an absolute container path: {path}")
        for linked, target in self.links.items():
            if path == linked or linked in path.parents:
                return target / path.relative_to(linked)
        return self.root / path.relative_to("/")

    def owns(self, container_path: str) -> bool:
        """True when the replay materialised this path (as opposed to a system directory)."""
        path = PurePosixPath(container_path)
        if not path.is_absolute() or str(path) in SYSTEM_BIN_DIRS:
            return False
        top = path.parts[1] if len(path.parts) > 1 else ""
        return bool(top) and (self.root / top).exists()


@dataclass
class Replayed:
    recipe: Recipe
    workdir: Path
    venv: Path
    container_env: dict[str, str]
    fs: StageFS
    build_seconds: float
    host_python: str
    uv_version: str

    def host_env(self, **overrides: str) -> dict[str, str]:
        env = to_host_env(self.container_env, self.fs)
        env["HOME"] = "/nonexistent"  # as the image's service user (useradd --no-create-home)
        env.update(overrides)
        return env


def to_host_env(container_env: Mapping[str, str], fs: StageFS) -> dict[str, str]:
    """Map container paths in the values to the replay's directories; system bins to this host."""
    host_bins = list(dict.fromkeys([str(Path(base_python()).parent), "/usr/bin", "/bin"]))
    env: dict[str, str] = {}
    for key, value in container_env.items():
        if key == "PATH":
            entries: list[str] = []
            for entry in value.split(":"):
                if entry in SYSTEM_BIN_DIRS:
                    entries.extend(host_bins)
                elif fs.owns(entry):
                    entries.append(str(fs.host(entry)))
                else:
                    entries.append(entry)
            env[key] = ":".join(dict.fromkeys(entries))
        elif value.startswith("/") and fs.owns(value):
            env[key] = str(fs.host(value))
        else:
            env[key] = value
    return env


def run_checked(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], what: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise ReplayError(
            f"{what} failed ({result.returncode}): {shlex.join(argv)}\n{result.stdout}\n{result.stderr}"
        )
    return result


def _copy(
    instruction: Instruction,
    fs: StageFS,
    workdir: str,
    context: Path,
    done: Mapping[str, StageFS],
) -> None:
    words = shlex.split(instruction.value)
    options = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    if len(paths) < 2:
        raise ReplayError(f"line {instruction.line}: COPY needs a source and a destination")
    *sources, destination = paths
    source_stage: StageFS | None = None
    for option in options:
        key, _, value = option[2:].partition("=")
        if key == "from":
            if value not in done:
                raise ReplayError(f"line {instruction.line}: no earlier stage {value!r}")
            source_stage = done[value]
        elif key not in {"chown", "chmod", "link"}:
            raise ReplayError(f"line {instruction.line}: COPY --{key} is not replayed")
    dest = PurePosixPath(destination)
    if not dest.is_absolute():
        dest = PurePosixPath(workdir) / dest
    into_dir = destination.endswith("/") or len(sources) > 1
    for source in sources:
        if any(c in source for c in "*?["):
            raise ReplayError(f"line {instruction.line}: COPY globs are not replayed: {source}")
        if source_stage is not None:
            src = source_stage.host(PurePosixPath(source))
            if PurePosixPath(source) == dest:
                # Same absolute path in both stages (as in the image): link, so that scripts'
                # shebangs and the venv's own paths stay valid.
                fs.links[dest] = src
                continue
        else:
            src = context / source
            if not src.exists():
                raise ReplayError(
                    f"line {instruction.line}: COPY {source}: not in the build context "
                    "(missing, or excluded by .dockerignore)"
                )
        if src.is_dir():
            shutil.copytree(src, fs.host(dest), symlinks=True, dirs_exist_ok=True)
        else:
            target = fs.host(dest / src.name if into_dir else dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


USER_TOOLS = {"groupadd", "useradd", "addgroup", "adduser", "chown", "chmod"}


def _run(
    instruction: Instruction,
    fs: StageFS,
    workdir: str,
    container_env: Mapping[str, str],
    recipe: Recipe,
) -> None:
    """Replay one RUN: each `&&`-joined command must be one the replay knows."""
    cwd = fs.host(workdir)
    cwd.mkdir(parents=True, exist_ok=True)
    commands = [shlex.split(part) for part in instruction.value.split("&&")]
    if not all(commands):
        raise ReplayError(f"line {instruction.line}: cannot read RUN {instruction.value!r}")
    for words in commands:
        if words[:2] == ["pip", "install"]:
            packages = [w for w in words[2:] if not w.startswith("-")]
            if packages != [f"uv=={recipe.uv_version}"]:
                raise ReplayError(f"line {instruction.line}: only `pip install uv==X` is replayed")
            # This machine's uv stands in for the pinned one.
        elif words[0] in USER_TOOLS:
            pass  # users and ownership: the replay runs as the current user
        elif words[:2] == ["mkdir", "-p"]:
            for path in words[2:]:
                fs.host(str(PurePosixPath(workdir) / path)).mkdir(parents=True, exist_ok=True)
        elif words[:2] == ["uv", "sync"]:
            _uv_sync(words, fs, cwd, container_env)
        elif words[:3] == ["python", "-m", "compileall"]:
            run_checked(words, cwd=cwd, env=to_host_env(container_env, fs), what="compileall")
        elif words == ["python", "-m", "app.analyzer"]:
            run_checked(words, cwd=cwd, env=to_host_env(container_env, fs), what="model compile")
        else:
            raise ReplayError(
                f"line {instruction.line}: RUN not replayed: {shlex.join(words)!r} "
                "(teach scripts/container_smoke.py what it does)"
            )


def _uv_sync(words: list[str], fs: StageFS, cwd: Path, container_env: Mapping[str, str]) -> None:
    env = to_host_env(container_env, fs)
    env.update({k: v for k, v in os.environ.items() if HOST_BUILD_VARS.match(k)})
    venv = cwd / ".venv"
    if "UV_PROJECT_ENVIRONMENT" in container_env:
        venv = fs.host(container_env["UV_PROJECT_ENVIRONMENT"])
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    env["UV_PYTHON"] = base_python()
    uv = uv_executable()
    # The image's `uv sync` makes the venv with the image's Python; here: this machine's.
    run_checked(
        [*uv, "venv", "--quiet", "--python", base_python(), str(venv)],
        cwd=cwd,
        env=env,
        what="uv venv",
    )
    run_checked([*uv, *words[1:]], cwd=cwd, env=env, what="uv sync")


def replay(destination: Path, recipe: Recipe | None = None, root: Path = ROOT) -> Replayed:
    """Build the image's file system under `destination`; returns the final stage."""
    recipe = recipe or load_recipe(root / "Dockerfile")
    started = time.monotonic()
    context = build_context(destination / "context", root)
    done: dict[str, StageFS] = {}
    stages: list[tuple[StageFS, str, dict[str, str]]] = []
    for index, stage in enumerate(recipe.stages):
        if stage.base in done:
            raise ReplayError(f"FROM {stage.base} (an earlier stage) is not replayed")
        fs = StageFS(destination / f"stage-{index}-{stage.name or 'unnamed'}")
        fs.root.mkdir(parents=True)
        workdir = "/"
        container_env = dict(BASE_IMAGE_ENV)
        for instruction in stage.instructions:
            keyword = instruction.keyword
            if keyword == "WORKDIR":
                workdir = str(PurePosixPath(workdir) / expand(instruction.value, container_env))
                fs.host(workdir).mkdir(parents=True, exist_ok=True)
            elif keyword == "ENV":
                container_env.update(parse_env(instruction.value, container_env))
            elif keyword == "COPY":
                _copy(instruction, fs, workdir, context, done)
            elif keyword == "RUN":
                _run(instruction, fs, workdir, container_env, recipe)
            elif keyword in {"USER", "EXPOSE", "CMD", "HEALTHCHECK", "LABEL", "ARG"}:
                continue  # read from the recipe when the server runs
            else:
                raise ReplayError(f"line {instruction.line}: {keyword} is not replayed")
        if stage.name:
            done[stage.name] = fs
        stages.append((fs, workdir, container_env))
    fs, workdir, container_env = stages[-1]
    venv = fs.host(container_env.get("VIRTUAL_ENV", str(PurePosixPath(workdir) / ".venv")))
    return Replayed(
        recipe=recipe,
        workdir=fs.host(workdir),
        venv=venv,
        container_env=container_env,
        fs=fs,
        build_seconds=time.monotonic() - started,
        host_python=base_python(),
        uv_version=subprocess.run(
            [*uv_executable(), "--version"], capture_output=True, text=True, check=True
        ).stdout.split()[1],
    )


# ---------------------------------------------------------------------------------------------
# Running the image's command


def local_command(cmd: Sequence[str], port: int) -> list[str]:
    """The CMD with only the --host and --port values replaced."""
    argv = list(cmd)
    for option, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        if argv.count(option) != 1:
            raise ReplayError(f"the CMD needs exactly one {option}")
        argv[argv.index(option) + 1] = value
    return argv


def service_env(image: Replayed, database_url: str, secret: str) -> dict[str, str]:
    """The image's ENV plus what a deployment sets (see the manifests in deploy/azure/)."""
    return image.host_env(
        APP_ENV="production", FASTAPI_JWT_SECRET=secret, DATABASE_URL=database_url
    )


@dataclass
class SmokeResult:
    argv: list[str]
    seconds_to_migrate: float
    seconds_to_health: float
    seconds_to_ready: float
    events: list[str]
    metrics_status: int
    metrics_body: str
    metrics_status_forwarded: int
    metrics_files: list[str]
    exit_code: int
    seconds_to_exit: float
    output: str


SSE_DATA = re.compile(r"^data: ?(.*)$")
SPOOFED_CLIENT = "203.0.113.7"  # TEST-NET-3: what a proxy would put in X-Forwarded-For


class _Server:
    """The image's command in its own process group, its output in a file."""

    def __init__(self, argv: list[str], cwd: Path, env: Mapping[str, str], log: Path) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for(self, url: str, timeout: float) -> float:
        """Seconds from the start until `url` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ReplayError(
                    f"the server exited early ({self.process.returncode}):\n{self.output()}"
                )
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise ReplayError(f"{url} not 200 within {timeout}s:\n{self.output()}")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self._log.close()


def stream_events(base: str, token: str, body: str) -> list[str]:
    """The `data:` payloads of one analysis stream, in order."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    events: list[str] = []
    with (
        httpx.Client(timeout=60.0) as client,
        client.stream("POST", base + "/v1/analyse/stream", content=body, headers=headers) as r,
    ):
        if r.status_code != 200:
            raise ReplayError(f"the stream answered {r.status_code}: {r.read()!r}")
        if not r.headers.get("content-type", "").startswith("text/event-stream"):
            raise ReplayError(f"not an event stream: {r.headers.get('content-type')}")
        for line in r.iter_lines():
            match = SSE_DATA.match(line)
            if match:
                events.append(match.group(1))
    return events


def run_service(
    image: Replayed, database_url: str, secret: str, log_path: Path, example: Path
) -> SmokeResult:
    """Migrate, start the image's CMD, probe, stream `example`, then SIGTERM it."""
    env = service_env(image, database_url, secret)
    cwd = image.workdir

    begin = time.monotonic()
    run_checked(list(MIGRATE_COMMAND), cwd=cwd, env=env, what="migrations")
    seconds_to_migrate = time.monotonic() - begin
    claims = ["--sub", "smoke-user", "--org", "smoke-org", "--role", "analyst"]
    cli = ["python", "-m", "app.cli"]
    token = run_checked([*cli, "token", *claims], cwd=cwd, env=env, what="app.cli token")
    body = run_checked([*cli, "body", str(example)], cwd=cwd, env=env, what="app.cli body")

    port = free_port()
    argv = local_command(image.recipe.cmd, port)
    base = f"http://127.0.0.1:{port}"
    server = _Server(argv, cwd, env, log_path)
    try:
        to_health = server.wait_for(base + "/health", 60)
        to_ready = server.wait_for(base + "/ready", 60)

        check = image.recipe.healthcheck
        if check is not None:
            check_argv = [a.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for a in check.argv]
            timeout = seconds(check.options.get("timeout", "30s"))
            run_checked(check_argv, cwd=cwd, env=env, what="HEALTHCHECK", timeout=timeout)

        events = stream_events(base, token.stdout.strip(), body.stdout)

        # /metrics answers only local callers: direct, it is 200 (and adds up both workers
        # through PROMETHEUS_MULTIPROC_DIR); through a trusted proxy (FORWARDED_ALLOW_IPS), the
        # forwarded client is the caller, so it is refused.
        metrics = httpx.get(base + "/metrics", timeout=5.0)
        forwarded = httpx.get(
            base + "/metrics", headers={"X-Forwarded-For": SPOOFED_CLIENT}, timeout=5.0
        )
        multiproc = image.container_env.get("PROMETHEUS_MULTIPROC_DIR")
        files = sorted(p.name for p in image.fs.host(multiproc).iterdir()) if multiproc else []

        stopping = time.monotonic()
        server.process.send_signal(signal.SIGTERM)  # what the platform sends to PID 1
        try:
            exit_code = server.process.wait(PLATFORM_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            raise ReplayError(
                f"no exit within the {PLATFORM_GRACE_SECONDS}s grace:\n{server.output()}"
            ) from None
        return SmokeResult(
            argv=argv,
            seconds_to_migrate=seconds_to_migrate,
            seconds_to_health=to_health,
            seconds_to_ready=to_ready,
            events=events,
            metrics_status=metrics.status_code,
            metrics_body=metrics.text,
            metrics_status_forwarded=forwarded.status_code,
            metrics_files=files,
            exit_code=exit_code,
            seconds_to_exit=time.monotonic() - stopping,
            output=server.output(),
        )
    finally:
        server.close()


@dataclass
class RefusedStart:
    exit_code: int | None  # None: the supervisor was still running (respawning workers)
    output: str
    health_answered: bool


def refused_start(
    image: Replayed, env: Mapping[str, str], log_path: Path, expect: str, timeout: float = 30.0
) -> RefusedStart:
    """Start the image's CMD with a configuration the app must refuse; stop it once it has."""
    port = free_port()
    server = _Server(local_command(image.recipe.cmd, port), image.workdir, env, log_path)
    health_answered = False
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and server.process.poll() is None:
            if expect in server.output():
                break
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0)
                health_answered = health_answered or response.status_code == 200
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(5)  # the reason is written just before the exit
        return RefusedStart(server.process.poll(), server.output(), health_answered)
    finally:
        server.close()


def main() -> int:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="container-smoke-") as tmp:
        temp = Path(tmp)
        image = replay(temp / "image")
        print(
            f"replayed the Dockerfile in {image.build_seconds:.1f}s with {image.host_python} "
            f"and uv {image.uv_version} (the image: {image.recipe.final.base}, "
            f"uv {image.recipe.uv_version})"
        )
        result = run_service(
            image,
            f"sqlite+aiosqlite:///{temp / 'smoke.db'}",
            "container-smoke-secret-" + "x" * 32,
            temp / "server.log",
            ROOT / "examples" / "contract.txt",
        )
        print(f"command: {shlex.join(result.argv)}")
        print(
            f"migrations {result.seconds_to_migrate:.1f}s; /health after "
            f"{result.seconds_to_health:.1f}s, /ready after {result.seconds_to_ready:.1f}s"
        )
        print(f"stream: {len(result.events)} data events, the last {result.events[-1]!r}")
        print(
            f"/metrics {result.metrics_status} direct, {result.metrics_status_forwarded} "
            f"forwarded; {len(result.metrics_files)} multiprocess files"
        )
        print(f"SIGTERM: exit {result.exit_code} after {result.seconds_to_exit:.1f}s")
        ok = result.events[-1:] == ["[DONE]"] and result.exit_code in (0, -signal.SIGTERM)
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
