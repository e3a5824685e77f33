"""The model client's network path alone, on uvloop: CPU per read, and time to the first chunk.

Run: uv run python -m bench.network_reads [--round-trips 20000] [--requests 200]
Reads: each round trip writes one byte and reads one SSE-sized chunk (as a paced stream reads
one token per read), through httpcore2's public `AsyncNetworkStream` interface with a read
timeout: app/llm/network.py's protocol, httpcore2's stock anyio backend, and asyncio streams with
`asyncio.timeout` (the other asyncio-native design). The peer is its own process.
First chunk: sequential streamed chat completions from devtools/openai_server.py (its own
process) through `model_http_client`, stock transport against the network path, interleaved;
the time from sending the request to the first chunk of the body.
"""

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import httpcore2
import uvloop

from app.llm.network import AsyncioBackend
from app.llm.transport import model_http_client

CHUNK = b'data: {"choices":[{"delta":{"content":" token"},"index":0}]}\n\n' * 2
PEER = """
import asyncio, sys
CHUNK = %r
async def serve(reader, writer):
    while await reader.read(1):
        writer.write(CHUNK)
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


class StreamsStream(httpcore2.AsyncNetworkStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        async with asyncio.timeout(timeout):
            return await self.reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.writer.write(buffer)
        async with asyncio.timeout(timeout):
            await self.writer.drain()

    async def aclose(self) -> None:
        self.writer.close()


async def connect(kind: str, port: int) -> Any:
    if kind == "streams":
        return StreamsStream(*await asyncio.open_connection("127.0.0.1", port))
    backend = AsyncioBackend() if kind == "protocol" else httpcore2.AnyIOBackend()
    return await backend.connect_tcp("127.0.0.1", port, timeout=5.0)


async def measure(kind: str, port: int, round_trips: int) -> float:
    stream = await connect(kind, port)
    try:
        for _ in range(200):
            await stream.write(b"x", timeout=60.0)
            await stream.read(65536, timeout=60.0)
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(round_trips):
            await stream.write(b"x", timeout=60.0)
            data = await stream.read(65536, timeout=60.0)
            while len(data) < len(CHUNK):
                data += await stream.read(65536, timeout=60.0)
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await stream.aclose()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu / round_trips * 1e6


BODY = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


async def first_chunks(fast: bool, base_url: str, requests: int) -> list[float]:
    async with model_http_client(30.0, fast=fast, url=base_url) as http:

        async def one() -> float:
            started = time.perf_counter()
            url = f"{base_url}/chat/completions"
            async with http.stream("POST", url, json=BODY) as response:
                chunks = response.aiter_bytes()
                await anext(chunks)
                elapsed = time.perf_counter() - started
                async for _ in chunks:
                    pass
            return elapsed

        for _ in range(20):
            await one()
        return [await one() for _ in range(requests)]


def first_chunk_times(requests: int, rounds: int) -> dict[str, list[float]]:
    server = subprocess.Popen(
        [sys.executable, "devtools/openai_server.py", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        times: dict[str, list[float]] = {"stock": [], "network": []}
        for _ in range(rounds):
            for path, values in times.items():
                values += uvloop.run(first_chunks(path == "network", base_url, requests))
    finally:
        server.kill()
        server.wait()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=200, help="per path and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    peer = subprocess.Popen([sys.executable, "-c", PEER % CHUNK], stdout=subprocess.PIPE, text=True)
    try:
        assert peer.stdout is not None
        port = int(peer.stdout.readline())
        results: dict[str, list[float]] = {"protocol": [], "anyio": [], "streams": []}
        for _ in range(args.rounds):
            for kind, runs in results.items():
                runs.append(uvloop.run(measure(kind, port, args.round_trips)))
    finally:
        peer.kill()
        peer.wait()
    for kind, runs in results.items():
        rounds = ", ".join(f"{value:.1f}" for value in runs)
        sys.stdout.write(f"{kind:<9} {min(runs):6.1f} µs CPU per round trip (rounds: {rounds})\n")
    for path, values in first_chunk_times(args.requests, args.rounds).items():
        p50, p90 = statistics.median(values) * 1e3, statistics.quantiles(values, n=10)[-1] * 1e3
        sys.stdout.write(f"{path:<9} first chunk p50 {p50:.2f} ms, p90 {p90:.2f} ms\n")


if __name__ == "__main__":
    main()
