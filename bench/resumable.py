"""What `?resumable=true` costs: service CPU per token with it off, on (in-process log) and on
(Redis log), and the Redis writes per analysis.

The product runs as its container does (`uvicorn app.main:app`, production settings, SQLite),
one worker each, against the OpenAI-compatible test server in a process of its own. Each round
is STREAMS concurrent `format=events` analyses of TOKENS tokens, TOKEN_SECONDS apart; the figure
is the service process's CPU time (utime + stime from /proc) over the tokens it streamed, the
median of interleaved rounds. Redis writes are the stream's entries per analysis (one pipelined
round trip each, the end marker included), read with XLEN.

Run: uv run python -m bench.resumable [--rounds 3] [--no-write]   (needs Redis on 127.0.0.1:6379
for the third mode; REDIS_URL overrides.)
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import httpx
from redis import Redis

from app.cli import mint_token
from bench import report
from bench.analysis_answer import answer_tokens
from bench.procfs import cpu_seconds
from bench.services import SECRET, Service, migrate, product_app
from bench.upstream import Upstream
from devtools.processes import ROOT

TOKENS = 500
TOKEN_SECONDS = 0.01
STREAMS = 20
START = "<!-- resumable:start (written by bench/resumable.py) -->"
END = "<!-- resumable:end -->"
MODES = ("off", "on, in-process log", "on, Redis log")


async def one_round(service: Service, resumable: bool) -> list[str]:
    """STREAMS analyses at once; their ids."""

    async def one(client: httpx.AsyncClient) -> str:
        token = mint_token(SECRET, f"bench-{uuid.uuid4().hex[:8]}", "bench-org", "analyst")
        params = {"format": "events", **({"resumable": "true"} if resumable else {})}
        async with client.stream(
            "POST",
            "/v1/analyse/stream",
            params=params,
            json={"content": "The Supplier may vary the Charges at any time."},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status_code == 200, await response.aread()
            tokens = 0
            async for line in response.aiter_lines():
                tokens += line == "event: token"
                if line == "data: [DONE]":
                    break
            assert tokens == TOKENS, tokens
            return response.headers["x-analysis-id"]

    limits = httpx.Limits(max_connections=STREAMS)
    async with httpx.AsyncClient(base_url=service.url, timeout=120, limits=limits) as client:
        return list(await asyncio.gather(*(one(client) for _ in range(STREAMS))))


def measure(rounds: int, redis_url: str) -> tuple[dict[str, float], float]:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    samples: dict[str, list[float]] = {mode: [] for mode in MODES}
    writes: list[int] = []
    redis = Redis.from_url(redis_url)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        upstream = Upstream()
        services: dict[str, Service] = {}
        try:
            upstream.script(answer_tokens(TOKENS), TOKEN_SECONDS)
            for mode in MODES:
                name = mode.split(",")[-1].strip().replace(" ", "-")
                app = product_app(
                    name, upstream.base_url, f"sqlite+aiosqlite:///{workdir / 'r.db'}", workdir
                )
                extra = {"USER_REQUESTS_PER_MINUTE": "1000"}
                if mode.endswith("Redis log"):
                    extra |= {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix}
                app = replace(app, env={**app.env, **extra})
                migrate(app, workdir / "migrate.log")
                services[mode] = Service(app, workdir / f"{name}.log")
                services[mode].wait(app.ready_path)
                asyncio.run(one_round(services[mode], mode != "off"))  # warm up
            for _ in range(rounds):
                for mode, service in services.items():
                    before = cpu_seconds(service.pid)
                    ids = asyncio.run(one_round(service, mode != "off"))
                    after = cpu_seconds(service.pid)
                    samples[mode].append((after - before) / (STREAMS * TOKENS))
                    if mode.endswith("Redis log"):
                        writes += [int(redis.xlen(f"{prefix}{i}")) for i in ids]
        finally:
            for service in services.values():
                service.close()
            upstream.close()
            redis.close()
    return {mode: statistics.median(s) for mode, s in samples.items()}, statistics.mean(writes)


def render(cpu: dict[str, float], writes: float, rounds: int) -> str:
    off = cpu["off"]
    lines = [
        START,
        f"Command: `uv run python -m bench.resumable --rounds {rounds}`. {STREAMS} concurrent"
        f" `format=events` analyses of {TOKENS} tokens, {TOKEN_SECONDS * 1000:g} ms apart, per"
        " round; one worker; the median of interleaved rounds. Service CPU per token:",
        "",
        "| resumable | CPU per token | vs off |",
        "|---|---|---|",
        *(f"| {mode} | {value * 1e6:.0f} µs | {value / off:.2f}× |" for mode, value in cpu.items()),
        "",
        f"Redis writes per analysis ({TOKENS} tokens): {writes:.1f} pipelined round trips (one"
        " batch per 50 ms at most, the end marker included); readers on the producer's process"
        " read its memory, so the first client costs no Redis read.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.resumable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    cpu, writes = measure(args.rounds, redis_url)
    table = render(cpu, writes, args.rounds)
    print(table)
    if not args.no_write:
        report.write_block(
            ROOT / "docs" / "performance.md", table, START, END, "Resumable analyses"
        )


if __name__ == "__main__":
    main()
