"""The load client: one scenario against one service, verified stream by stream; prints JSON.

Run by bench/run.py as its own process: python -m bench.load_client < spec.json
"""

import asyncio
import json
import re
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvloop
from jose import jwt

from bench.procfs import cpu_seconds, rss_kib
from bench.sse_client import SseConnection, StreamResult, post_request
from devtools.openai_server import raise_open_files_limit

STREAM_PATH = "/v1/analyse/stream"
HEX_ID = re.compile(r"[0-9a-f]{32}")
ORGS = 20


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    secret: str
    body: bytes
    expected: list[str]
    pid: int

    def request(self, number: int) -> bytes:
        now = int(time.time())
        claims = {
            "sub": f"bench-user-{number}",
            "org": f"bench-org-{number % ORGS}",
            "role": "analyst",
            "iat": now,
            "exp": now + 120,
        }
        token = jwt.encode(claims, self.secret, algorithm="HS256")
        return post_request(self.host, self.port, STREAM_PATH, token, self.body)

    def failure(self, result: StreamResult) -> str | None:
        if result.error is not None:
            return result.error
        if result.status != 200:
            return f"HTTP {result.status}"
        if len(result.tokens) != len(self.expected):
            return f"{len(result.tokens)} tokens, expected {len(self.expected)}"
        if result.tokens != self.expected:
            return "tokens differ from the upstream's"
        if not result.done_last:
            return "[DONE] is not the last event"
        return None


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def next(self) -> int:
        self.value += 1
        return self.value


def percentile(values: Iterable[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def summarise(
    target: Target, results: list[StreamResult], elapsed: float, cpu: float
) -> dict[str, Any]:
    failures = [(r, f) for r in results if (f := target.failure(r)) is not None]
    good = [r for r in results if target.failure(r) is None]
    tokens = sum(len(r.tokens) for r in results)
    ttfts = [r.ttft for r in good if r.ttft is not None]
    latencies = [r.latency for r in good if r.latency is not None]
    return {
        "requests": len(results),
        "failures": len(failures),
        "failure_samples": sorted({HEX_ID.sub("…", f) for _, f in failures})[:5],
        "tokens": tokens,
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(len(good) / elapsed, 2),
        "tokens_per_s": round(tokens / elapsed, 1),
        "ttft_p50_ms": ms(percentile(ttfts, 0.5)),
        "ttft_p99_ms": ms(percentile(ttfts, 0.99)),
        "latency_p50_ms": ms(percentile(latencies, 0.5)),
        "latency_p99_ms": ms(percentile(latencies, 0.99)),
        "cpu_s": round(cpu, 3),
        "cpu_us_per_token": round(cpu / tokens * 1e6, 2) if tokens else None,
    }


async def saturation(target: Target, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` keep-alive connections, each looping requests until the time is up."""
    results: list[StreamResult] = []
    counter = Counter()
    deadline = time.monotonic() + seconds

    async def client() -> None:
        conn: SseConnection | None = None
        while time.monotonic() < deadline:
            if conn is None or not conn.reusable:
                try:
                    conn = await SseConnection.open(target.host, target.port)
                except OSError as exc:
                    results.append(StreamResult(sent_at=time.monotonic(), error=f"connect: {exc}"))
                    await asyncio.sleep(0.1)
                    continue
            results.append(await conn.request(target.request(counter.next())))
        if conn is not None:
            conn.close()

    cpu, started = cpu_seconds(target.pid), time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return summarise(target, results, time.monotonic() - started, cpu_seconds(target.pid) - cpu)


async def paced(
    target: Target, streams: int, ramp_seconds: float, deadline_seconds: float
) -> dict[str, Any]:
    """`streams` concurrent streams started over `ramp_seconds`, cut at `deadline_seconds`.

    RSS is sampled every 0.2 s with the number of streams streaming (first token in, not done);
    memory per stream comes from the sample with the most of them, ideally all.
    """
    idle_rss = rss_kib(target.pid)
    results: list[StreamResult] = []
    streaming = 0
    finished = 0

    def on_token(_conn: SseConnection, result: StreamResult) -> None:
        nonlocal streaming
        if len(result.tokens) == 1:
            streaming += 1

    async def stream(number: int) -> None:
        nonlocal streaming, finished
        conn: SseConnection | None = None
        result = StreamResult(sent_at=0.0)
        try:
            await asyncio.sleep(ramp_seconds * number / streams)
            results.append(result)
            conn = await SseConnection.open(target.host, target.port)
            await conn.request(target.request(number), on_token, result)
        except OSError as exc:
            result.error = f"connect: {exc}"
        except asyncio.CancelledError:
            result.error = f"unfinished after {deadline_seconds:g} s"
            raise
        finally:
            if conn is not None:
                conn.close()
            finished += 1
            streaming -= bool(result.tokens)

    async def sample_rss() -> tuple[int, int]:
        best = (0, idle_rss)
        while finished < streams:
            best = max(best, (streaming, rss_kib(target.pid)))
            await asyncio.sleep(0.2)
        return best

    cpu, started = cpu_seconds(target.pid), time.monotonic()
    sampler = asyncio.create_task(sample_rss())
    tasks = [asyncio.create_task(stream(n)) for n in range(streams)]
    _, late = await asyncio.wait(tasks, timeout=deadline_seconds)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed, cpu = time.monotonic() - started, cpu_seconds(target.pid) - cpu
    open_streams, open_rss = await sampler
    summary = summarise(target, results, elapsed, cpu)
    summary["failures"] += streams - len(results)
    summary |= {
        "streams": streams,
        "streams_open_at_sample": open_streams,
        "rss_idle_kib": idle_rss,
        "rss_open_kib": open_rss,
        "rss_per_stream_kib": round((open_rss - idle_rss) / open_streams, 1)
        if open_streams
        else None,
    }
    return summary


async def sequential(target: Target, requests: int) -> dict[str, Any]:
    results: list[StreamResult] = []
    cpu, started = cpu_seconds(target.pid), time.monotonic()
    conn = await SseConnection.open(target.host, target.port)
    for number in range(requests):
        if not conn.reusable:
            conn = await SseConnection.open(target.host, target.port)
        results.append(await conn.request(target.request(number)))
    conn.close()
    return summarise(target, results, time.monotonic() - started, cpu_seconds(target.pid) - cpu)


async def upstream_requests(control: httpx.AsyncClient, since: int) -> list[dict[str, Any]]:
    response = await control.get("/_requests", params={"since": since})
    requests: list[dict[str, Any]] = response.json()["requests"]
    return requests


async def cancellation(target: Target, upstream: str, trials: int, after_tokens: int) -> Any:
    """Client closes mid-stream; latency until the upstream saw its own connection close."""
    latencies: list[float] = []
    failures: list[str] = []
    async with httpx.AsyncClient(base_url=upstream, timeout=5) as control:
        for number in range(trials):
            since = (await control.get("/_stats")).json()["recorded"]
            conn = await SseConnection.open(target.host, target.port)

            def on_token(c: SseConnection, res: StreamResult) -> None:
                if len(res.tokens) >= after_tokens:
                    c.close()

            pending = asyncio.create_task(conn.request(target.request(number), on_token))
            if after_tokens == 0:
                async with asyncio.timeout(5):
                    while not await upstream_requests(control, since):
                        await asyncio.sleep(0.005)
                await asyncio.sleep(0.05)
                conn.close()
            result = await pending
            record = None
            for _ in range(600):
                records = await upstream_requests(control, since)
                if records and records[-1]["finished_at"] is not None:
                    record = records[-1]
                    break
                await asyncio.sleep(0.005)
            if record is None or record["disconnected_at"] is None or result.closed_at is None:
                failures.append(f"upstream not disconnected: {record} / {result.error}")
                continue
            latencies.append(record["disconnected_at"] - result.closed_at)
    return {
        "trials": trials,
        "after_tokens": after_tokens,
        "failures": len(failures),
        "failure_samples": failures[:3],
        "p50_ms": ms(statistics.median(latencies)) if latencies else None,
        "max_ms": ms(max(latencies)) if latencies else None,
    }


async def run(spec: dict[str, Any]) -> Any:
    url = urlsplit(spec["url"])
    target = Target(
        host=url.hostname or "127.0.0.1",
        port=url.port or 80,
        secret=spec["secret"],
        body=json.dumps({"content": spec["document"], "document_type": "contract"}).encode(),
        expected=spec["expected"],
        pid=spec["pid"],
    )
    scenario = spec["scenario"]
    if scenario == "saturation":
        return await saturation(target, spec["clients"], spec["seconds"])
    if scenario == "paced":
        return await paced(target, spec["streams"], spec["ramp_seconds"], spec["deadline_seconds"])
    if scenario == "sequential":
        return await sequential(target, spec["requests"])
    if scenario == "cancellation":
        return await cancellation(target, spec["upstream"], spec["trials"], spec["after_tokens"])
    raise ValueError(f"unknown scenario {scenario!r}")


def main() -> None:
    raise_open_files_limit()
    spec = json.loads(sys.stdin.read())
    print(json.dumps(uvloop.run(run(spec))))


if __name__ == "__main__":
    main()
