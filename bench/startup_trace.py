"""A start-up trace: one worker's start, phase by phase, in a fresh interpreter each run.

Where `bench.startup` says how long the start takes, this says where the time goes: the phases a
worker of `app.main:app` goes through before it serves its first analysis, timed in one process
(wall and CPU seconds since the interpreter started), with `LLM_PROVIDER=local` and with `openai`
against the local test server. With `--other-dir`, another checkout (e.g. `git archive REV`) runs
interleaved with this one, for a before/after per phase.

Run: uv run python -m bench.startup_trace [--runs 5] [--other-dir DIR]
"""

import argparse
import compileall
import json
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.analysis_answer import answer_tokens
from bench.processes import exit_on_signals, python
from bench.services import migrate, product_app
from bench.startup import compile_checkout
from bench.upstream import Upstream
from devtools.processes import ROOT

# The phases, in the order a worker goes through them (app.main's Entry, then the application's
# lifespan, then the first request).
CHILD = """
import json, sys, time
marks = []
def mark(name):
    marks.append((name, time.perf_counter(), time.process_time()))
import uvicorn.config, uvicorn.server, uvloop, httptools
mark("interpreter + uvicorn")
import app.main
mark("import app.main (settings, /health)")
from app.application import create_app
mark("import app.application (FastAPI, SQLAlchemy, routes, auth)")
import asyncio
from app.config import load_settings
settings = load_settings()
application = create_app(settings)
async def main():
    async with application.router.lifespan_context(application) as state:
        mark("create_app + lifespan (engine, metrics)")
        await state["chat_model"].get()
        mark("chat model ready (/ready 200)")
        paused = time.perf_counter(), time.process_time()
        import httpx
        from app.cli import mint_token
        async def app_with_state(scope, receive, send):
            scope["state"] = dict(state)
            await application(scope, receive, send)
        transport = httpx.ASGITransport(app=app_with_state)
        token = mint_token(settings.jwt_secret, "trace", "trace", "analyst")
        body = {"content": sys.argv[1], "document_type": "contract"}
        async with httpx.AsyncClient(transport=transport, base_url="http://trace") as client:
            # The client's own imports are not the service's: left out of the clock.
            offset = time.perf_counter() - paused[0], time.process_time() - paused[1]
            response = await client.post(
                "/v1/analyse", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200, response.text
        name, wall, cpu = "first analysis served", time.perf_counter(), time.process_time()
        marks.append((name, wall - offset[0], cpu - offset[1]))
asyncio.run(main())
print(json.dumps([[n, w, c] for n, w, c in marks]))
"""


def trace_once(source: Path, env: dict[str, str]) -> list[tuple[str, float, float]]:
    """Seconds since the interpreter was started, wall and CPU, at the end of each phase."""
    document = (ROOT / "examples" / "contract.txt").read_text(encoding="utf-8")
    started = time.perf_counter()  # CLOCK_MONOTONIC: the child's perf_counter is on it too
    result = subprocess.run(
        python("-c", CHILD, document),
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    marks = json.loads(result.stdout.strip().splitlines()[-1])
    return [(name, wall - started, cpu) for name, wall, cpu in marks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--other-dir",
        type=Path,
        action="append",
        default=[],
        help="also trace this checkout, interleaved (repeatable; labelled by directory name)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    exit_on_signals()
    sources = {"this": ROOT, **{path.name: path for path in args.other_dir}}
    for directory in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}:
        compileall.compile_dir(directory, quiet=1, workers=0)
    for source in sources.values():
        compile_checkout(source)
    upstream = Upstream()
    results: dict[str, Any] = {}
    try:
        upstream.script(answer_tokens(50))
        with tempfile.TemporaryDirectory(prefix="bench-trace-") as tmp:
            apps = {
                label: product_app(
                    label,
                    upstream.base_url,
                    f"sqlite+aiosqlite:///{tmp}/{label}.db",
                    Path(tmp),
                    source,
                )
                for label, source in sources.items()
            }
            for app in apps.values():
                migrate(app, Path(tmp) / "migrate.log")
            for _ in range(args.runs):
                for provider in ("local", "openai"):
                    for label, app in apps.items():
                        env = {**app.env, "LLM_PROVIDER": provider}
                        marks = trace_once(app.cwd, env)
                        results.setdefault(f"{label}-{provider}", []).append(marks)
    finally:
        upstream.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.stdout.write(render(results) + "\n")


def render(results: dict[str, list[list[tuple[str, float, float]]]]) -> str:
    """Per configuration and phase: the median seconds the phase took, wall and CPU."""
    keys = list(results)
    phases = [name for name, _, _ in results[keys[0]][0]]
    header = ["phase", *(f"{key} wall / CPU s" for key in keys)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, name in enumerate([*phases, "total"]):
        cells = [name]
        for key in keys:
            walls, cpus = [], []
            for marks in results[key]:
                if name == "total":
                    walls.append(marks[-1][1])
                    cpus.append(marks[-1][2])
                    continue
                walls.append(marks[index][1] - (marks[index - 1][1] if index else 0.0))
                cpus.append(marks[index][2] - (marks[index - 1][2] if index else 0.0))
            cells.append(f"{statistics.median(walls):.3f} / {statistics.median(cpus):.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
