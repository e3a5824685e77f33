"""Start-up to the first served analysis: the product (as its image starts it) beside the article's app.

Each run starts a service with 2 workers and, from a new process start, measures three moments:
the first `/health` 200 (liveness), the first `/ready` 200 (the product only) and the first
completed analysis (the product: `POST /v1/analyse` of examples/contract.txt answered 200 with
its findings; the article's app: `POST /v1/analyse/stream` read to `[DONE]`). The apps run
interleaved (reference, product with `LLM_PROVIDER=local`, product with `openai` against the
local test server, and again); the figures are medians.

Run alone: uv run python -m bench.startup [--runs 3] [--no-write] [--json PATH] [--other-dir DIR]
(`--other-dir`: also start the product from another checkout, e.g. `git archive REV`, interleaved.)
(`make bench` runs the same measurement and writes it with the rest.)
"""

import argparse
import compileall
import http.client
import json
import statistics
import subprocess
import sysconfig
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.cli import mint_token
from bench import report
from bench.analysis_answer import answer_tokens
from bench.processes import exit_on_signals, python, spawn, stop, stop_all
from bench.procfs import group_cpu_seconds
from bench.services import SECRET, App, migrate, product_app, reference_app
from bench.upstream import Upstream
from devtools.processes import ROOT, free_port

DOCUMENT = (ROOT / "examples" / "contract.txt").read_text(encoding="utf-8")
START = "<!-- startup:start (written by bench/startup.py and bench/run.py) -->"
END = "<!-- startup:end -->"
# The image's command (Dockerfile CMD), but on 127.0.0.1, a free port and the default log config.
IMAGE_FLAGS = (
    "--workers",
    "2",
    "--loop",
    "uvloop",
    "--http",
    "app.edge_http:BoundedHttpToolsProtocol",
    "--proxy-headers",
    "--timeout-graceful-shutdown",
    "17",
)
REFERENCE_FLAGS = ("--workers", "2", "--loop", "uvloop", "--http", "httptools")
POLL_SECONDS = 0.01
TIMEOUT_SECONDS = 90.0
ANSWER_TOKENS = 50


@dataclass(frozen=True, slots=True)
class Starter:
    """One way to start a service: its app, the command line and the analysis request."""

    label: str
    app: App
    args: tuple[str, ...]
    path: str
    served: Callable[[int, bytes], bool]


@dataclass(slots=True)
class Moments:
    health: float | None = None
    ready: float | None = None
    served: float | None = None
    # CPU seconds the service's processes had used when the analysis was served: unlike the
    # wall-clock figures, hardly moved by other load on the machine.
    cpu: float | None = None
    errors: list[str] = field(default_factory=list)


def _product_served(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    result = json.loads(body)
    return isinstance(result.get("findings"), list) and "analysis_id" in result


def _stream_served(status: int, body: bytes) -> bool:
    return status == 200 and body.rstrip().endswith(b"data: [DONE]")


def starters(upstream: Upstream, workdir: Path, other: Path | None = None) -> list[Starter]:
    """The reference, then the product with the offline analyzer and with the OpenAI client;
    with `other`, the product from that checkout too (an A/B in the same run)."""
    reference = reference_app(upstream.base_url)
    chosen = [
        Starter(
            "reference",
            reference,
            ("-m", "uvicorn", reference.target, *REFERENCE_FLAGS),
            "/v1/analyse/stream",
            _stream_served,
        )
    ]
    image = ("-m", "app.serve", "app.main:app", *IMAGE_FLAGS)
    for prefix, source in (("product", ROOT), (other.name if other else "", other)):
        if source is None:
            continue
        database = f"sqlite+aiosqlite:///{workdir}/startup-{prefix}.db"
        openai = product_app(f"{prefix}-openai", upstream.base_url, database, workdir, source)
        env = {**openai.env, "LLM_PROVIDER": "local"}
        local = App(f"{prefix}-local", openai.target, "/ready", env, source)
        for app in (local, openai):
            chosen.append(Starter(app.name, app, image, "/v1/analyse", _product_served))
    return chosen


def compile_checkout(source: Path) -> None:
    """What the image's build does to the code: byte-compile it, compile the analyzer's models
    (in checkouts that have the step)."""
    compileall.compile_dir(source / "app", quiet=1)
    if (source / "app" / "analyzer" / "__main__.py").exists():
        subprocess.run(
            python("-m", "app.analyzer"), cwd=source, check=True, stdout=subprocess.DEVNULL
        )


def _get(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def _post(port: int, path: str, body: bytes) -> tuple[int, bytes] | None:
    # A new user per attempt: the per-user request limit must not count the earlier runs.
    sub = f"startup-{uuid.uuid4().hex}"
    token = mint_token(SECRET, sub=sub, org="startup-bench", role="analyst", ttl=300)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return None
    finally:
        connection.close()


def measure_once(starter: Starter, log: Path) -> Moments:
    """Start the service, poll the three moments in parallel, stop it."""
    port = free_port()
    moments = Moments()
    body = json.dumps({"content": DOCUMENT, "document_type": "contract"}).encode()
    with log.open("ab") as out:
        started = time.monotonic()
        process = spawn(
            python(*starter.args, "--host", "127.0.0.1", "--port", str(port)),
            starter.app.env,
            out,
            cwd=starter.app.cwd,
        )
        deadline = started + TIMEOUT_SECONDS

        def poll(name: str, attempt: Callable[[], bool]) -> None:
            while time.monotonic() < deadline and process.poll() is None:
                if attempt():
                    setattr(moments, name, time.monotonic() - started)
                    return
                time.sleep(POLL_SECONDS)
            moments.errors.append(f"{name}: not reached")

        def served() -> bool:
            answer = _post(port, starter.path, body)
            if answer is None or not starter.served(*answer):
                return False
            moments.cpu = group_cpu_seconds(process.pid)
            return True

        threads = [
            threading.Thread(target=poll, args=("health", lambda: _get(port, "/health") == 200)),
            threading.Thread(target=poll, args=("served", served)),
        ]
        if starter.app.is_product:
            threads.append(
                threading.Thread(target=poll, args=("ready", lambda: _get(port, "/ready") == 200))
            )
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            stop(process)
    return moments


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def measure(
    upstream: Upstream, workdir: Path, runs: int, other: Path | None = None
) -> dict[str, Any]:
    """`runs` interleaved rounds of every starter; per app the runs and their medians."""
    # The image byte-compiles its dependencies (UV_COMPILE_BYTECODE) and its code, and compiles
    # the analyzer's models, at build time (see the Dockerfile); so does this, untimed. Without
    # it, under PYTHONDONTWRITEBYTECODE (or a read-only venv) every start compiles every module
    # it imports from source: for both apps, most of what a start costs.
    for directory in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}:
        compileall.compile_dir(directory, quiet=1, workers=0)
    for source in (ROOT, other):
        if source is not None:
            compile_checkout(source)
    upstream.script(answer_tokens(ANSWER_TOKENS))
    chosen = starters(upstream, workdir, other)
    for starter in chosen:
        if starter.app.is_product and starter.app.env["LLM_PROVIDER"] == "openai":
            migrate(starter.app, workdir / f"startup-{starter.label}-migrate.log")
    results: dict[str, Any] = {s.label: {"runs": []} for s in chosen}
    for number in range(runs):
        for starter in chosen:
            moments = measure_once(starter, workdir / f"startup-{starter.label}.log")
            run = {
                "health_s": moments.health,
                "ready_s": moments.ready,
                "served_s": moments.served,
                "cpu_s": moments.cpu,
                "errors": moments.errors,
            }
            results[starter.label]["runs"].append(run)
            shown = {k: None if v is None else round(v, 3) for k, v in run.items() if k != "errors"}
            print(f"  startup #{number + 1} {starter.label:<15} {shown} {moments.errors or ''}")
    for result in results.values():
        for key in ("health_s", "ready_s", "served_s", "cpu_s"):
            result[key] = _median([run[key] for run in result["runs"]])
    return results


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _ratio(value: float | None, reference: float | None) -> str:
    return "–" if value is None or not reference else f"{value / reference:.2f}x"


def render(
    results: dict[str, Any], runs: int, command: str, date: str, markers: bool = True
) -> str:
    reference = results.get("reference", {})
    served_ref = reference.get("served_s")
    cpu_ref = reference.get("cpu_s")
    targets = {"product-local": "≤ 0.5x", "product-openai": "≤ 1.0x"}
    rows = [
        "| app | → `/health` 200 (liveness) | → `/ready` 200 | → first served analysis "
        "| served / reference's served | target | CPU s used by then | CPU / reference's |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, result in results.items():
        rows.append(
            f"| {label} | {_fmt(result.get('health_s'))} | {_fmt(result.get('ready_s'))} "
            f"| {_fmt(result.get('served_s'))} | {_ratio(result.get('served_s'), served_ref)} "
            f"| {targets.get(label, '')} | {_fmt(result.get('cpu_s'))} "
            f"| {_ratio(result.get('cpu_s'), cpu_ref)} |"
        )
    every = "; ".join(
        f"{label} " + " / ".join(_fmt(run["served_s"]) for run in result["runs"])
        for label, result in results.items()
    )
    text = "\n".join(
        [
            START,
            "",
            f"Command: `{command}`; {date}. Seconds from the process start (2 workers, the "
            f"image's command line; the article's app: `uvicorn --workers 2`), median of {runs} "
            "interleaved runs. First served analysis: the product's `POST /v1/analyse` of "
            "examples/contract.txt answered 200 with its findings (`LLM_PROVIDER=local`: the "
            "offline analyzer; `openai`: the local OpenAI-compatible test server); the "
            "article's app: `POST /v1/analyse/stream` read to `[DONE]`. CPU: user + system "
            "seconds of all the service's processes (supervisor and workers) at that moment.",
            "",
            *rows,
            "",
            f"- Every run, first served analysis (s): {every}.",
            "",
            END,
        ]
    )
    return text if markers else text.removeprefix(START).removesuffix(END).strip()


def write(path: Path, table: str) -> None:
    report.write_block(path, table, START, END)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/performance.md")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--other-dir", type=Path, help="an A/B: also start the product from this checkout"
    )
    args = parser.parse_args()
    exit_on_signals()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
            upstream = Upstream()
            try:
                results = measure(upstream, Path(tmp), args.runs, args.other_dir)
            finally:
                upstream.close()
    finally:
        stop_all()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    table = render(results, args.runs, "python -m bench.startup", date)
    print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if not args.no_write:
        write(ROOT / "docs" / "performance.md", table)


if __name__ == "__main__":
    main()
