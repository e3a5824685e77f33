"""The product/reference table, the machine it ran on, and its place in docs/performance.md."""

import json
import os
import platform
import statistics
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

START = "<!-- bench:start (written by bench/run.py; edit outside these markers) -->"
END = "<!-- bench:end -->"
PACKAGES = (
    "uvicorn",
    "uvloop",
    "httptools",
    "fastapi",
    "starlette",
    "langchain-core",
    "langchain-openai",
    "openai",
    "httpx",
    "httpx2",
    "pydantic",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
)
PRODUCTS = ("product-sqlite", "product-postgres")

Getter = Callable[[dict[str, Any]], float | None]


def one_line(result: dict[str, Any]) -> str:
    keys = (
        "failures",
        "requests",
        "tokens_per_s",
        "cpu_us_per_token",
        "ttft_p50_ms",
        "ttft_p99_ms",
        "rss_per_stream_kib",
        "p50_ms",
        "max_ms",
    )
    line = "  ".join(f"{k}={result[k]}" for k in keys if result.get(k) is not None)
    if result.get("failure_samples"):
        line += f"\n      failures: {result['failure_samples']}"
    return line


def _cpu_model() -> str:
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        return int(meminfo.readline().split()[1]) / 1024 / 1024


def machine(results: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in PACKAGES)
    return [
        f"- Date: {results.get('date', '?')}; total run time {results['total_s']} s",
        f"- CPU: {_cpu_model()}, {os.cpu_count()} cores (shared, noisy); "
        f"{_memory_gib():.0f} GiB RAM; {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {versions}",
        f"- PostgreSQL {results.get('postgres_version', 'not available')} on 127.0.0.1",
    ]


def _get(*path: str) -> Getter:
    def get(app: dict[str, Any]) -> float | None:
        value: Any = app
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return None if value is None else float(value)

    return get


ROWS: list[tuple[str, Getter, str]] = [
    ("CPU µs/token, saturation", _get("saturation", "cpu_us_per_token"), "≤ 0.5x"),
    ("CPU µs/token, paced", _get("paced", "cpu_us_per_token"), "≤ 0.5x"),
    ("RSS KiB per open stream (paced)", _get("paced", "rss_per_stream_kib"), "≤ 0.5x"),
    ("TTFT p50 ms, C=1", _get("single", "ttft_p50_ms"), "≤ 1.0x"),
    ("TTFT p99 ms, C=1", _get("single", "ttft_p99_ms"), ""),
    ("tokens/s, saturation", _get("saturation", "tokens_per_s"), ""),
    ("requests/s, saturation", _get("saturation", "requests_per_s"), ""),
    ("TTFT p50 ms, saturation", _get("saturation", "ttft_p50_ms"), ""),
    ("latency p99 ms, saturation", _get("saturation", "latency_p99_ms"), ""),
    ("TTFT p99 ms, paced", _get("paced", "ttft_p99_ms"), ""),
    ("cancel before 1st token p50 ms", _get("cancel_before", "p50_ms"), "≤ 100 ms"),
    ("cancel before 1st token max ms", _get("cancel_before", "max_ms"), "≤ 100 ms"),
    ("cancel after 1st token p50 ms", _get("cancel_after", "p50_ms"), "≤ 100 ms"),
    ("cancel after 1st token max ms", _get("cancel_after", "max_ms"), "≤ 100 ms"),
]


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def _ratio(product: float | None, reference: float | None) -> str:
    if product is None or reference is None or reference == 0:
        return "–"
    return f"{product / reference:.2f}x"


# Rows measured in interleaved rounds: the ratio is the median of the per-round ratios, each
# product round against the reference round run just before it.
PAIRED = {
    "CPU µs/token, saturation": ("saturation", "cpu_us_per_token"),
    "CPU µs/token, paced": ("paced", "cpu_us_per_token"),
    "TTFT p50 ms, C=1": ("single", "ttft_p50_ms"),
    "TTFT p99 ms, C=1": ("single", "ttft_p99_ms"),
}


def _paired_ratio(
    product: dict[str, Any], reference: dict[str, Any], scenario: str, metric: str
) -> str:
    mine = (product.get(scenario) or {}).get(f"{metric}_rounds") or []
    theirs = (reference.get(scenario) or {}).get(f"{metric}_rounds") or []
    if len(mine) != len(theirs) or len(mine) < 2 or not all(theirs):
        return _ratio(_get(scenario, metric)(product), _get(scenario, metric)(reference))
    return f"{statistics.median(m / t for m, t in zip(mine, theirs, strict=True)):.2f}x"


def _big_row(name: str, result: dict[str, Any] | None) -> str:
    if not result:
        return f"| {name} | – | – | – | – |"
    cells = [
        name,
        str(result["failures"]),
        _fmt(result["cpu_us_per_token"]),
        _fmt(result["rss_open_kib"] / 1024),
        f"{_fmt(result['ttft_p50_ms'])} / {_fmt(result['ttft_p99_ms'])}",
    ]
    return "| " + " | ".join(cells) + " |"


def _rounds(apps: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for label, (scenario, metric) in PAIRED.items():
        runs = {
            name: app[scenario].get(f"{metric}_rounds")
            for name, app in apps.items()
            if isinstance(app.get(scenario), dict)
        }
        if any(len(values or ()) > 1 for values in runs.values()):
            cells = "; ".join(
                f"{name} {' / '.join(_fmt(v) for v in values or ())}"
                for name, values in runs.items()
            )
            lines.append(f"- Rounds, {label}: {cells}.")
    return [*lines, ""] if lines else []


def render(results: dict[str, Any], command: str, markers: bool = True) -> str:
    apps: dict[str, dict[str, Any]] = results["apps"]
    reference = apps.get("reference", {})
    products = [name for name in PRODUCTS if name in apps]
    header = ["metric", "reference", *products, *(f"{p} / ref" for p in products), "target"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for label, get, target in ROWS:
        ref_value = get(reference)
        values = [get(apps[p]) for p in products]
        paired = PAIRED.get(label)
        ratios = [
            _paired_ratio(apps[p], reference, *paired) if paired else _ratio(v, ref_value)
            for p, v in zip(products, values, strict=True)
        ]
        cells = [label, _fmt(ref_value), *(_fmt(v) for v in values), *ratios, target]
        lines.append("| " + " | ".join(cells) + " |")
    failures = {
        f"{name}/{scenario}": result["failures"]
        for name, app in apps.items()
        for scenario, result in app.items()
        if isinstance(result, dict) and result.get("failures")
    }
    big = [_big_row(name, apps[name].get("paced_big")) for name in products]
    plan = results["plan"]
    text = "\n".join(
        [
            START,
            "",
            f"Command: `{command}`.",
            "",
            *machine(results),
            "",
            f"Saturation: {plan['saturation_clients']} keep-alive clients looping for "
            f"{plan['saturation_seconds']:g} s, {plan['saturation_tokens']} tokens per stream, "
            f"no delay. Paced: {plan['paced_streams']} streams of {plan['paced_tokens']} tokens "
            f"at {plan['paced_delay'] * 1000:g} ms per token, started over "
            f"{plan['paced_ramp']:g} s. C=1: {plan['ttft_requests']} sequential streams of "
            f"{plan['saturation_tokens']} tokens. Cancellation: {plan['cancel_trials']} trials "
            "each; the client closes 50 ms after the upstream got the request (before) or after "
            "the 3rd token (after); latency = upstream saw its connection close − client closed. "
            f"Saturation and paced ran in {plan.get('rounds', 1)} rounds with the apps "
            f"interleaved, C=1 in {plan.get('rounds', 1) * plan.get('single_repeats', 1)}; the "
            "table shows each app's median, and their ratios are the median of the per-round "
            "ratios (memory per stream: the first round, each process's first burst).",
            "",
            *lines,
            "",
            *_rounds(apps),
            f"{plan['big_streams']} concurrent paced streams (product only, started over "
            f"{plan['big_ramp']:g} s):",
            "",
            "| app | failures | CPU µs/token | peak RSS MiB | TTFT p50 / p99 ms |",
            "|---|---|---|---|---|",
            *big,
            "",
            f"Failed streams: {failures or 'none'}.",
            "",
            END,
        ]
    )
    return text if markers else text.removeprefix(START).removesuffix(END).strip()


def write(path: Path, table: str) -> None:
    write_block(path, table, START, END)


def write_block(path: Path, table: str, start: str, end: str, heading: str = "") -> None:
    """Put `table` (which carries its own markers) between `start` and `end` of `path`: in place
    of the last run's, or appended under `heading` the first time."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + table + rest.split(end, 1)[1]
    else:
        title = f"## {heading}\n\n" if heading else ""
        text = text.rstrip("\n") + "\n\n" + title + table + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    saved = json.loads(Path(sys.argv[1]).read_text())
    print(render(saved, saved.get("command", "python -m bench.run"), markers=False))
