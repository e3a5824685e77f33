"""Profile one service under the saturation scenario with py-spy (not a project dependency).

Run: uv pip install py-spy && uv run python -m bench.profile [--app product-sqlite] [--scenario paced] [--seconds 15]
Writes a speedscope file (open it at speedscope.app) and prints CPU shares by area.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.postgres import scratch_database
from bench.processes import exit_on_signals, spawn, stop, stop_all
from bench.profile_shares import report
from bench.report import one_line
from bench.run import QUICK, ROOT, Bench, Plan, build_apps
from bench.services import App, Service, migrate
from bench.upstream import Upstream
from devtools.openai_server import raise_open_files_limit

APPS = ("reference", "product-sqlite", "product-postgres")
PY_SPY_FLAGS = ("--format", "speedscope", "--rate", "200", "--gil")


def profile(app: App, bench: Bench, scenario: str, seconds: float, out: Path) -> None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed: uv pip install py-spy")
    log = bench.workdir / f"{app.name}.log"
    if app.is_product:
        migrate(app, log)
    service = Service(app, log)
    try:
        service.wait(app.ready_path)
        bench.sequential(service, bench.plan.warmup_requests)
        record = [py_spy, "record", "--pid", str(service.pid), *PY_SPY_FLAGS]
        recorder = spawn(
            [*record, "--output", str(out), "--duration", str(int(seconds))],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        if scenario == "paced":
            result = bench.paced(service, bench.plan.paced_streams, bench.plan.paced_ramp)
        elif scenario == "single":
            result = bench.sequential(service, bench.plan.ttft_requests * 10)
        else:
            result = bench.saturation(service)
        recorder.wait(seconds + 60)
        stop(recorder)
        print(f"{app.name} {scenario}: {one_line(result)}")
    finally:
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=APPS, default="product-sqlite")
    parser.add_argument(
        "--scenario", choices=("saturation", "paced", "single"), default="saturation"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="how long py-spy records")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--product-dir", type=Path, default=ROOT)
    args = parser.parse_args()
    exit_on_signals()
    raise_open_files_limit()
    out = args.output or Path(tempfile.gettempdir()) / f"{args.app}-{args.scenario}.speedscope.json"
    try:
        with (
            tempfile.TemporaryDirectory(prefix="profile-") as tmp,
            scratch_database(skip=args.app != "product-postgres") as postgres,
        ):
            upstream = Upstream()
            try:
                plan = replace(QUICK if args.quick else Plan(), saturation_seconds=args.seconds)
                bench = Bench(plan, upstream, Path(tmp))
                postgres_url = postgres[0] if postgres else None
                apps = build_apps(upstream, Path(tmp), postgres_url, args.product_dir.resolve())
                app = next((a for a in apps if a.name == args.app), None)
                if app is None:
                    raise SystemExit(f"{args.app} is not available")
                profile(app, bench, args.scenario, args.seconds, out)
            finally:
                upstream.close()
    finally:
        stop_all()
    print(f"profile: {out}")
    print(report(out))


if __name__ == "__main__":
    main()
