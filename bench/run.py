"""`make bench`: the article's reference against the product, scenario by scenario.

Run: uv run python -m bench.run [--quick] [--no-write] [--json PATH]
Starts the upstream, a scratch PostgreSQL database, each service (one uvicorn worker) and a
load client per scenario, each its own process; prints the product/reference table and writes it
into docs/performance.md. Then the start-up (bench/startup.py: 2 workers, the image's command,
to the first served analysis), written into its own table there.
"""

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, startup
from bench.analysis_answer import answer_tokens
from bench.postgres import scratch_database
from bench.processes import exit_on_signals, python, spawn, stop, stop_all
from bench.services import SECRET, App, Service, migrate, product_app, reference_app
from bench.upstream import Upstream
from devtools.openai_server import raise_open_files_limit

ROOT = Path(__file__).resolve().parents[1]

BIG_APPS = ("product-postgres",)
DOCUMENT = (ROOT / "examples" / "contract.txt").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Plan:
    saturation_clients: int = 50
    saturation_seconds: float = 8.0
    saturation_tokens: int = 200
    paced_streams: int = 500
    paced_tokens: int = 100
    paced_delay: float = 0.1
    paced_ramp: float = 1.0
    big_streams: int = 1000
    big_ramp: float = 2.0
    paced_deadline: float = 75.0
    ttft_requests: int = 50
    warmup_requests: int = 20
    cancel_trials: int = 20
    cold_runs: int = 3
    rounds: int = 3
    single_repeats: int = 3
    """C=1 runs this many times per round, the apps interleaved each time: it is cheap, and its
    few milliseconds drift between rounds by more than the apps differ."""


QUICK = Plan(
    saturation_clients=20,
    saturation_seconds=3.0,
    paced_streams=100,
    paced_tokens=30,
    big_streams=200,
    big_ramp=1.0,
    ttft_requests=10,
    warmup_requests=5,
    cancel_trials=5,
    cold_runs=1,
    rounds=1,
    single_repeats=1,
)
# Run in rounds with the apps interleaved (reference, products, reference, ...): the machine's
# speed drifts over seconds, and these ratios are the ones the targets are about.
ROUNDED = ("saturation", "paced", "single")


class Bench:
    def __init__(self, plan: Plan, upstream: Upstream, workdir: Path) -> None:
        self.plan = plan
        self.upstream = upstream
        self.workdir = workdir

    def client(self, service: Service, spec: dict[str, Any], timeout: float) -> Any:
        spec = {
            "url": service.url,
            "pid": service.pid,
            "secret": SECRET,
            "document": DOCUMENT,
            "upstream": self.upstream.control_url,
            "expected": [],
            **spec,
        }
        process = spawn(
            python("-m", "bench.load_client"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
        )
        try:
            out, _ = process.communicate(json.dumps(spec).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{spec['scenario']} did not finish in {timeout:g} s") from None
        finally:
            stop(process)
        if process.returncode != 0:
            raise RuntimeError(f"load client failed on {spec['scenario']} ({process.returncode})")
        return json.loads(out)

    def stream_script(self, tokens: int, delay: float = 0.0) -> list[str]:
        expected = answer_tokens(tokens)
        self.upstream.script(expected, delay=delay)
        return expected

    def paced(self, service: Service, streams: int, ramp: float) -> Any:
        plan = self.plan
        spec = {
            "scenario": "paced",
            "expected": self.stream_script(plan.paced_tokens, plan.paced_delay),
            "streams": streams,
            "ramp_seconds": ramp,
            "deadline_seconds": plan.paced_deadline,
        }
        return self.client(service, spec, plan.paced_deadline + 60)

    def saturation(self, service: Service) -> Any:
        plan = self.plan
        spec = {
            "scenario": "saturation",
            "expected": self.stream_script(plan.saturation_tokens),
            "clients": plan.saturation_clients,
            "seconds": plan.saturation_seconds,
        }
        return self.client(service, spec, plan.saturation_seconds + 120)

    def sequential(self, service: Service, requests: int) -> Any:
        spec = {
            "scenario": "sequential",
            "expected": self.stream_script(self.plan.saturation_tokens),
            "requests": requests,
        }
        return self.client(service, spec, 120)

    def cancellation(self, service: Service, after_tokens: int) -> Any:
        self.upstream.script(answer_tokens(100), delay=0.02, first_token_delay=0.15)
        spec = {
            "scenario": "cancellation",
            "trials": self.plan.cancel_trials,
            "after_tokens": after_tokens,
        }
        return self.client(service, spec, self.plan.cancel_trials * 10 + 30)

    def scenarios(self, app: App) -> dict[str, Callable[[Service], Any]]:
        plan = self.plan
        steps: dict[str, Callable[[Service], Any]] = {
            "paced": lambda s: self.paced(s, plan.paced_streams, plan.paced_ramp),
            "saturation": self.saturation,
            "single": lambda s: self.sequential(s, plan.ttft_requests),
            "cancel_before": lambda s: self.cancellation(s, 0),
            "cancel_after": lambda s: self.cancellation(s, 3),
        }
        if app.name in BIG_APPS:
            steps["paced_big"] = lambda s: self.paced(s, plan.big_streams, plan.big_ramp)
        return steps

    def start(self, app: App) -> tuple[Service, dict[str, Any]]:
        log = self.workdir / f"{app.name}.log"
        if app.is_product:
            migrate(app, log)
        service = Service(app, log)
        try:
            results: dict[str, Any] = {"startup_s": round(service.wait(app.ready_path), 3)}
            self.sequential(service, self.plan.warmup_requests)
        except BaseException:
            service.close()
            raise
        return service, results

    def run_apps(self, apps: list[App], only: set[str] | None) -> dict[str, dict[str, Any]]:
        services: list[tuple[App, Service]] = []
        results: dict[str, dict[str, Any]] = {}
        rounds: dict[str, dict[str, list[Any]]] = {app.name: {} for app in apps}
        try:
            for app in apps:
                service, results[app.name] = self.start(app)
                services.append((app, service))
            for number in range(self.plan.rounds):
                for name in ROUNDED:
                    if only is not None and name not in only:
                        continue
                    for _ in range(self.plan.single_repeats if name == "single" else 1):
                        for app, service in services:
                            result = self.scenarios(app)[name](service)
                            rounds[app.name].setdefault(name, []).append(result)
                            self.progress(app, f"{name} #{number + 1}", result)
            for app, service in services:
                for name, step in self.scenarios(app).items():
                    if name not in ROUNDED and (only is None or name in only):
                        results[app.name][name] = step(service)
                        self.progress(app, name, results[app.name][name])
        finally:
            for _, service in services:
                service.close()
        for app in apps:
            for name, runs in rounds[app.name].items():
                results[app.name][name] = combine(name, runs)
        return results

    @staticmethod
    def progress(app: App, scenario: str, result: dict[str, Any]) -> None:
        print(f"  {app.name:<17} {scenario:<13} {report.one_line(result)}", flush=True)


def combine(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of the rounds; memory per stream from the first (each process's first burst)."""
    metrics = {
        "saturation": ("cpu_us_per_token", "tokens_per_s"),
        "paced": ("cpu_us_per_token",),
    }.get(name, ("ttft_p50_ms", "ttft_p99_ms"))
    combined = {**runs[0], "failures": sum(run["failures"] for run in runs)}
    for metric in metrics:
        values = [run[metric] for run in runs if run.get(metric) is not None]
        combined[metric] = statistics.median(values) if values else None
        combined[f"{metric}_rounds"] = values
    return combined


def build_apps(
    upstream: Upstream,
    workdir: Path,
    postgres_url: str | None,
    source: Path,
    source_b: Path | None = None,
) -> list[App]:
    """The reference and the product; with `source_b`, a second product interleaved for an A/B."""
    apps = [reference_app(upstream.base_url)]
    for prefix, checkout in (("product", source), ("product-b", source_b)):
        if checkout is None:
            continue
        sqlite_url = f"sqlite+aiosqlite:///{workdir}/{prefix}.db"
        apps.append(
            product_app(f"{prefix}-sqlite", upstream.base_url, sqlite_url, workdir, checkout)
        )
        if postgres_url:
            apps.append(
                product_app(
                    f"{prefix}-postgres", upstream.base_url, postgres_url, workdir, checkout
                )
            )
    return apps


def run_all(args: argparse.Namespace, plan: Plan, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"apps": {}, "startup": {}, "plan": asdict(plan)}
    only = set(args.scenarios.split(",")) if args.scenarios else None
    with scratch_database(skip=args.skip_postgres) as postgres:
        upstream = Upstream()
        try:
            bench = Bench(plan, upstream, workdir)
            postgres_url = postgres[0] if postgres else None
            source_b = args.product_b_dir.resolve() if args.product_b_dir else None
            apps = build_apps(upstream, workdir, postgres_url, args.product_dir.resolve(), source_b)
            results["postgres_version"] = postgres[1] if postgres else None
            if args.apps:
                apps = [app for app in apps if app.name in args.apps.split(",")]
            if only is None or only - {"startup", "cold_start"}:
                results["apps"] = bench.run_apps(apps, only)
            if only is None or only & {"startup", "cold_start"}:
                # Its own processes (2 workers each, the image's command), after every other step.
                results["startup"] = startup.measure(upstream, workdir, plan.cold_runs)
        finally:
            upstream.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/performance.md")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--logs", type=Path, help="keep the services' logs in this directory")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--product-dir", type=Path, default=ROOT, help="run the product from this checkout"
    )
    parser.add_argument(
        "--product-b-dir",
        type=Path,
        help="an A/B: also run the product from this checkout (apps product-b-sqlite, -postgres)",
    )
    parser.add_argument("--apps", help="comma-separated subset of the apps")
    parser.add_argument("--scenarios", help="comma-separated subset of the scenarios")
    args = parser.parse_args()
    command = shlex.join(["python", "-m", "bench.run", *sys.argv[1:]])
    exit_on_signals()
    raise_open_files_limit()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            workdir = args.logs or Path(tmp)
            workdir.mkdir(parents=True, exist_ok=True)
            results = run_all(args, QUICK if args.quick else Plan(), workdir)
    finally:
        stop_all()
    results["total_s"] = round(time.monotonic() - started, 1)
    results["command"] = command
    results["date"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    path = ROOT / "docs" / "performance.md"
    # Only what ran is written: `--scenarios startup` leaves the main table alone, and the
    # other scenarios leave the start-up table alone.
    if results["apps"]:
        table = report.render(results, command)
        print(table)
        if not args.no_write:
            report.write(path, table)
    if results["startup"]:
        runs = results["plan"]["cold_runs"]
        startup_table = startup.render(results["startup"], runs, command, results["date"])
        print(startup_table)
        if not args.no_write:
            startup.write(path, startup_table)


if __name__ == "__main__":
    main()
