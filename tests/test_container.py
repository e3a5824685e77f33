"""The Dockerfile, proved without Docker.

The recipe is parsed and checked (pins, layer order, ENV, the exact CMD), then replayed by
scripts/container_smoke.py: a clean venv made by `uv venv` with this machine's Python (3.11
here; the image is python:3.12-slim) and `uv sync --frozen --no-dev --no-install-project` in a
copy of exactly what the Dockerfile COPYs. Then `alembic upgrade head` on a scratch SQLite
database, the image's exact command (only --host and --port changed) with the image's ENV plus a
production configuration, /health, /ready, the HEALTHCHECK, one stream, and SIGTERM.
"""

import importlib.metadata
import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator

import click
import pytest
import uvicorn
from uvicorn.main import main as uvicorn_cli

from app.config import Settings
from devtools.processes import ROOT
from scripts.container_smoke import (
    PLATFORM_GRACE_SECONDS,
    Replayed,
    SmokeResult,
    local_command,
    refused_start,
    replay,
    run_checked,
    run_service,
    service_env,
    uv_executable,
)
from scripts.dockerfile import DockerIgnore, Recipe, load_recipe

BASE_IMAGE = "python:3.12-slim"
EXPECTED_CMD = [
    "python",
    "-m",
    "app.serve",
    "app.main:app",
    "--host",
    "0.0.0.0",
    "--port",
    "8000",
    "--workers",
    "2",
    "--loop",
    "uvloop",
    "--http",
    "app.edge_http:BoundedHttpToolsProtocol",
    "--proxy-headers",
    "--timeout-graceful-shutdown",
    "17",
    "--log-config",
    "app/uvicorn_logging.json",
]
IMAGE_CONTENT = {"pyproject.toml", "uv.lock", "app/", "alembic/", "alembic.ini"}
# ENV the image may set besides the app's settings: the interpreter's, uv's at build time,
# uvicorn's (FORWARDED_ALLOW_IPS) and prometheus_client's (PROMETHEUS_MULTIPROC_DIR).
OTHER_ENV = {
    "PATH",
    "VIRTUAL_ENV",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "UV_COMPILE_BYTECODE",
    "UV_PYTHON_DOWNLOADS",
    "FORWARDED_ALLOW_IPS",
    "PROMETHEUS_MULTIPROC_DIR",
}
SECRET = "container-test-secret-0123456789abcdef0123456789"


@pytest.fixture(scope="module")
def recipe() -> Recipe:
    return load_recipe()


# ------------------------------------------------------------------------------------------
# The recipe


def test_every_stage_is_python_312_slim(recipe: Recipe) -> None:
    assert [stage.base for stage in recipe.stages] == [BASE_IMAGE] * len(recipe.stages)


def test_uv_is_pinned_and_installed_with_pip(recipe: Recipe) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", recipe.uv_version)
    pip_runs = [r for r in recipe.runs if r.startswith("pip install")]
    assert pip_runs == [f"pip install --no-cache-dir uv=={recipe.uv_version}"]


def test_dependencies_are_a_layer_of_their_own(recipe: Recipe) -> None:
    """The lock is copied and synced before any source, so code edits reuse the layer."""
    build = recipe.stages[0]
    steps = [(i.keyword, i.value) for i in build.instructions if i.keyword in {"COPY", "RUN"}]
    copy_lock = ("COPY", "pyproject.toml uv.lock ./")
    sync = ("RUN", "uv sync --frozen --no-dev --no-install-project")
    assert copy_lock in steps
    assert sync in steps
    assert steps.index(copy_lock) < steps.index(sync)
    # Nothing but the lock reaches the build stage; the source is copied in the runtime stage.
    assert [v for k, v in steps if k == "COPY"] == ["pyproject.toml uv.lock ./"]
    assert recipe.env(build)["UV_COMPILE_BYTECODE"] == "1"
    assert recipe.env(build)["UV_PYTHON_DOWNLOADS"] == "never"


def test_the_runtime_stage_has_the_venv_and_the_code(recipe: Recipe) -> None:
    copies = [i.value for i in recipe.final.all("COPY")]
    assert copies[0] == "--from=build /app/.venv /app/.venv"
    sources = {word for value in copies[1:] for word in value.split()[:-1]}
    assert sources == IMAGE_CONTENT - {"uv.lock"}


def test_runtime_env(recipe: Recipe) -> None:
    env = recipe.env(recipe.final)
    assert env["PATH"].split(":")[0] == "/app/.venv/bin"
    assert env["VIRTUAL_ENV"] == "/app/.venv"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["FORWARDED_ALLOW_IPS"] == "127.0.0.1"
    assert env["APP_ENV"] == "production"
    settings = {name.upper() for name in Settings.model_fields}
    for stage in recipe.stages:
        for name in recipe.env(stage):
            assert name in settings | OTHER_ENV | {"LANG"}, f"ENV {name}: nobody reads it"


def test_runs_as_a_non_root_user(recipe: Recipe) -> None:
    user = recipe.user
    assert user is not None
    assert user.split(":")[0] not in {"0", "root"}


def test_the_command(recipe: Recipe) -> None:
    assert recipe.cmd == EXPECTED_CMD
    assert recipe.exposed_ports == [int(recipe.option("--port"))]
    assert "uv" not in recipe.cmd  # no `uv run` at start: it would sync before serving
    assert not recipe.final.all("ENTRYPOINT")  # so a job's `command` replaces the CMD
    assert int(recipe.option("--timeout-graceful-shutdown")) < PLATFORM_GRACE_SECONDS
    assert recipe.cmd.count("--host") == recipe.cmd.count("--port") == 1
    assert local_command(recipe.cmd, 1234) == [
        "127.0.0.1" if i == 5 else "1234" if i == 7 else arg for i, arg in enumerate(EXPECTED_CMD)
    ]


@pytest.mark.container
def test_the_installed_uvicorn_accepts_the_command(recipe: Recipe) -> None:
    """Parse the CMD with uvicorn's own CLI (no server started)."""
    assert recipe.cmd[:3] == ["python", "-m", "app.serve"]  # the launcher hands the rest over
    context = uvicorn_cli.make_context("uvicorn", list(recipe.cmd[3:]))
    with context:
        params = context.params
    assert params["app"] == "app.main:app"
    assert params["workers"] == 2
    assert params["loop"] == "uvloop"
    assert params["http"] == "app.edge_http:BoundedHttpToolsProtocol"  # httptools, bounded
    assert params["proxy_headers"] is True
    assert params["timeout_graceful_shutdown"] == 17
    # Not given on the command line, so uvicorn takes it from FORWARDED_ALLOW_IPS (below).
    assert params["forwarded_allow_ips"] is None
    with pytest.raises(click.UsageError):
        uvicorn_cli.make_context("uvicorn", ["app.main:app", "--no-such-option"])


def test_uvicorn_reads_forwarded_allow_ips_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.40.0.0/23")
    assert uvicorn.Config("app.main:app").forwarded_allow_ips == "10.40.0.0/23"
    monkeypatch.delenv("FORWARDED_ALLOW_IPS")
    assert uvicorn.Config("app.main:app").forwarded_allow_ips == "127.0.0.1,::1"


def test_healthcheck_is_exec_form_against_health(recipe: Recipe) -> None:
    check = recipe.healthcheck
    assert check is not None
    assert check.argv[0] == "python"
    assert f"127.0.0.1:{recipe.option('--port')}/health" in " ".join(check.argv)


def test_dockerignore_keeps_the_context_to_what_the_image_needs() -> None:
    ignore = DockerIgnore.load()
    for excluded in [
        ".venv/bin/python",
        ".git/config",
        "node_modules/x/index.js",
        "clients/typescript/package.json",
        "tests/test_stream.py",
        "bench/run.py",
        "docs/notes.md",
        "compliance.db",
        "app/__pycache__/main.cpython-312.pyc",
        ".env",
        ".mypy_cache/x",
    ]:
        assert ignore.excludes(excluded), excluded
    for kept in ["pyproject.toml", "uv.lock", "app/main.py", "alembic/env.py", "alembic.ini"]:
        assert not ignore.excludes(kept), kept


# ------------------------------------------------------------------------------------------
# The replay


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory, recipe: Recipe) -> Iterator[Replayed]:
    root = tmp_path_factory.mktemp("image")
    yield replay(root, recipe)
    shutil.rmtree(root)  # ~200 MB of venv; pytest would keep it for three runs


def venv_python(image: Replayed) -> str:
    return str(image.venv / "bin" / "python")


@pytest.mark.container
def test_the_replay_builds_quickly_with_this_python(image: Replayed) -> None:
    assert image.build_seconds < 300  # seconds with uv's cache warm; a ceiling, not a target
    version = run_checked(
        [venv_python(image), "-c", "import sys; print(sys.version_info[:2])"],
        cwd=image.workdir,
        env=image.host_env(),
        what="python",
    )
    # This machine's interpreter (3.11 here), not the image's 3.12: same lock, same code.
    assert version.stdout.strip() == str(sys.version_info[:2])
    # The image has only what the Dockerfile COPYs, and the venv copied from the build stage.
    assert sorted(p.name for p in image.workdir.iterdir()) == [
        "alembic",
        "alembic.ini",
        "app",
        "pyproject.toml",
    ]
    assert (image.venv / "bin" / "uvicorn").is_file()
    assert image.fs.host("/app/.venv") == image.venv


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.container
def test_the_image_has_the_runtime_dependencies_only(image: Replayed) -> None:
    export = [*uv_executable(), "export", "--frozen", "--no-dev", "--no-hashes", "--no-header"]
    export += ["--no-annotate", "--no-emit-project"]
    lock = subprocess.run(export, cwd=ROOT, capture_output=True, text=True, check=True)
    runtime = {normalize(re.split(r"[=;\s]", line)[0]) for line in lock.stdout.splitlines()}
    runtime.discard("")
    listing = (
        "import importlib.metadata as m; print(*(d.metadata['Name'] for d in m.distributions()))"
    )
    installed = run_checked(
        [venv_python(image), "-c", listing],
        cwd=image.workdir,
        env=image.host_env(),
        what="list the venv",
    )
    names = {normalize(name) for name in installed.stdout.split()}
    assert names <= runtime, names - runtime
    for needed in ["uvicorn", "uvloop", "httptools", "alembic", "asyncpg", "aiosqlite"]:
        assert needed in names, needed
    for dev_only in ["pytest", "pytest-asyncio", "mypy", "ruff", "schemathesis", "pip-audit"]:
        assert dev_only not in names, dev_only
    # And pytest (this very test runner) really cannot be imported there.
    probe = subprocess.run(
        [venv_python(image), "-c", "import pytest"],
        cwd=image.workdir,
        env=image.host_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode != 0
    assert "No module named 'pytest'" in probe.stderr
    version = run_checked(
        [venv_python(image), "-c", "import uvicorn; print(uvicorn.__version__)"],
        cwd=image.workdir,
        env=image.host_env(),
        what="uvicorn version",
    )
    assert version.stdout.strip() == importlib.metadata.version("uvicorn")


@pytest.mark.container
def test_dependencies_and_code_are_compiled(image: Replayed) -> None:
    assert list((image.workdir / "app").glob("__pycache__/main.*.pyc"))
    site = next(image.venv.glob("lib/python3.*/site-packages"))
    assert list((site / "fastapi").glob("__pycache__/*.pyc"))


@pytest.fixture(scope="module")
def served(image: Replayed, tmp_path_factory: pytest.TempPathFactory) -> SmokeResult:
    temp = tmp_path_factory.mktemp("served")
    return run_service(
        image,
        f"sqlite+aiosqlite:///{temp / 'service.db'}",
        SECRET,
        temp / "server.log",
        ROOT / "examples" / "contract.txt",
    )


@pytest.mark.container
def test_the_command_is_the_image_command(served: SmokeResult, recipe: Recipe) -> None:
    changed = [i for i, (a, b) in enumerate(zip(served.argv, recipe.cmd, strict=True)) if a != b]
    assert [recipe.cmd[i - 1] for i in changed] == ["--host", "--port"]
    assert served.argv[recipe.cmd.index("--host") + 1] == "127.0.0.1"


@pytest.mark.container
def test_it_becomes_healthy_then_ready(served: SmokeResult) -> None:
    assert served.seconds_to_migrate < 30
    assert served.seconds_to_health < 30
    assert served.seconds_to_health <= served.seconds_to_ready < 60


@pytest.mark.container
def test_every_line_the_image_logs_is_json(served: SmokeResult) -> None:
    lines = [line for line in served.output.splitlines() if line.strip()]
    assert any("Started server process" in line for line in lines)
    for line in lines:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "message"} <= entry.keys(), line


@pytest.mark.container
def test_a_stream_ends_with_done(served: SmokeResult) -> None:
    assert len(served.events) > 10
    assert served.events[-1] == "[DONE]"
    assert not any('"error"' in event for event in served.events), served.events[-3:]


@pytest.mark.container
def test_two_workers_and_the_proxy_settings_are_live(served: SmokeResult) -> None:
    assert served.output.count("Started server process") == 2
    # /metrics is for local callers: direct from 127.0.0.1 it answers (both workers' samples,
    # through PROMETHEUS_MULTIPROC_DIR); with X-Forwarded-For from a trusted proxy
    # (FORWARDED_ALLOW_IPS=127.0.0.1) the caller is the forwarded client, and it is refused.
    assert served.metrics_status == 200
    assert served.metrics_status_forwarded != 200
    assert any(name.endswith(".db") for name in served.metrics_files), served.metrics_files


@pytest.mark.container
def test_sigterm_is_a_clean_shutdown_within_the_grace(served: SmokeResult) -> None:
    assert served.exit_code in (0, -signal.SIGTERM), served.output
    assert served.seconds_to_exit < PLATFORM_GRACE_SECONDS
    assert "Received SIGTERM" in served.output
    assert served.output.count("Application shutdown complete") == 2, served.output
    assert served.output.count("Finished server process") == 2, served.output
    assert "Traceback" not in served.output, served.output


@pytest.mark.container
def test_the_image_refuses_to_start_without_a_real_secret(
    image: Replayed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """APP_ENV=production is the image's default: no FASTAPI_JWT_SECRET, no server."""
    temp = tmp_path_factory.mktemp("refused")
    env = service_env(image, f"sqlite+aiosqlite:///{temp / 'refused.db'}", SECRET)
    del env["FASTAPI_JWT_SECRET"]
    refused = refused_start(
        image, env, temp / "server.log", "FASTAPI_JWT_SECRET is required in production"
    )
    assert "refusing to start" in refused.output, refused.output
    assert not refused.health_answered
    assert refused.exit_code == 3, refused.output
