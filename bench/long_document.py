"""A 135 000-character Terms of Service against the OpenAI-compatible test server: sectioned
(LLM_SECTION_CHARS=20000, the default concurrency) beside one request (LLM_SECTION_CHARS=0).

The server models a hosted model's two costs: prefill, a first-token delay proportional to the
prompt (PREFILL_SECONDS_PER_CHAR), and decoding, a delay per output token (TOKEN_SECONDS). Each
section answers with three findings; one request answers with all of them. Reported: time to
the first finding and to `[DONE]`, medians of interleaved runs.

Run: uv run python -m bench.long_document [--runs 3] [--no-write]
"""

import argparse
import asyncio
import json
import re
import statistics
import time

import httpx
import uvicorn

from app.analyses.sections import split_sections
from app.application import create_app
from app.cli import mint_token
from app.config import Settings
from devtools.processes import ROOT, free_port
from tests.openai_server import OpenAIServer, Script, split_tokens

SECTION_CHARS = 20_000
DOCUMENT_CHARS = 135_000
TOKEN_SECONDS = 0.01
PREFILL_SECONDS_PER_CHAR = 20e-6
FINDINGS_PER_SECTION = 3
SECRET = "bench-secret-0123456789abcdef-0123456789"
START = "<!-- long-document:start (written by bench/long_document.py) -->"
END = "<!-- long-document:end -->"
SENTENCE = re.compile(r"[A-Z][^.!?\n]{40,200}[.!?]")


def document() -> str:
    """The longest real Terms of Service of the CLAUDETTE set, continued with the next ones."""
    data = json.loads((ROOT / "data/claudette/claudette_en_dev.json").read_text())
    texts = sorted((d["text"] for d in data["documents"]), key=len, reverse=True)
    return "\n\n".join(texts)[:DOCUMENT_CHARS]


def findings_of(text: str, count: int) -> list[dict[str, object]]:
    return [
        {
            "clause": match.group(0),
            "risk": "medium",
            "explanation": "A clause a reviewer should read; negotiate notice and a cap.",
            "confidence": 0.6,
        }
        for match in list(SENTENCE.finditer(text))[:count]
    ]


def answer(findings: list[dict[str, object]], prompt_chars: int) -> Script:
    text = json.dumps({"findings": findings, "summary": "Findings listed above."})
    return Script(
        tokens=split_tokens(text),
        delay=TOKEN_SECONDS,
        first_token_delay=prompt_chars * PREFILL_SECONDS_PER_CHAR,
    )


def script(upstream: OpenAIServer, content: str, sectioned: bool) -> None:
    if not sectioned:
        spans = split_sections(content, SECTION_CHARS)
        everything = [f for s, e in spans for f in findings_of(content[s:e], FINDINGS_PER_SECTION)]
        upstream.script(answer(everything, len(content)))
        return
    for start, end in split_sections(content, SECTION_CHARS):
        found = findings_of(content[start:end], FINDINGS_PER_SECTION)
        upstream.script(answer(found, end - start))
    summary = Script(tokens=split_tokens("The document is risky in places."), delay=TOKEN_SECONDS)
    upstream.script(summary)


async def one_run(upstream: OpenAIServer, content: str, sectioned: bool) -> tuple[float, float]:
    settings = Settings(
        app_env="test",
        fastapi_jwt_secret=SECRET,
        database_url=f"sqlite+aiosqlite:///{ROOT / 'bench' / '.long-document.db'}",
        llm_provider="openai",
        openai_api_key="bench",
        openai_base_url=upstream.base_url,
        llm_max_retries=0,
        llm_section_chars=SECTION_CHARS if sectioned else 0,
        stream_max_seconds=600,
        first_token_timeout_seconds=120,
        llm_timeout_seconds=120,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        script(upstream, content, sectioned)
        token = mint_token(SECRET, "bench", "bench-org", "analyst")
        async with httpx.AsyncClient(timeout=600) as client:
            started = time.perf_counter()
            first = None
            async with client.stream(
                "POST",
                f"http://127.0.0.1:{port}/v1/analyse/stream",
                params={"format": "events"},
                json={"content": content, "document_type": "terms_of_service"},
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status_code == 200, response.status_code
                async for line in response.aiter_lines():
                    if first is None and line == "event: finding":
                        first = time.perf_counter() - started
                    if line == "data: [DONE]":
                        break
            total = time.perf_counter() - started
        assert first is not None
        return first, total
    finally:
        server.should_exit = True
        await serving


async def measure(runs: int) -> dict[str, tuple[float, float]]:
    from tests.conftest import migrate

    database = ROOT / "bench" / ".long-document.db"
    database.unlink(missing_ok=True)
    await migrate(f"sqlite+aiosqlite:///{database}")
    content = document()
    samples: dict[str, list[tuple[float, float]]] = {"one request": [], "sectioned": []}
    with OpenAIServer() as upstream:
        for _ in range(runs):
            for label, sectioned in (("one request", False), ("sectioned", True)):
                upstream.reset()
                samples[label].append(await one_run(upstream, content, sectioned))
    database.unlink(missing_ok=True)
    return {
        label: (statistics.median(s[0] for s in runs_), statistics.median(s[1] for s in runs_))
        for label, runs_ in samples.items()
    }


def render(results: dict[str, tuple[float, float]], runs: int) -> str:
    sections = len(split_sections(document(), SECTION_CHARS))
    lines = [
        START,
        f"Command: `uv run python -m bench.long_document --runs {runs}` (also run by `make bench`).",
        "",
        f"A {DOCUMENT_CHARS:,}-character Terms of Service (CLAUDETTE's longest, continued with the"
        f" next) against the test server: prefill {PREFILL_SECONDS_PER_CHAR * 1e6:g} µs per prompt"
        f" character, {TOKEN_SECONDS * 1000:g} ms per output token, {FINDINGS_PER_SECTION} findings"
        f" per {SECTION_CHARS:,} characters. Sectioned: {sections} sections, 4 at a time, and the"
        " summary call. Medians of interleaved runs.",
        "",
        "| mode | first finding | whole analysis |",
        "|---|---|---|",
        *(
            f"| {label} | {first:.2f} s | {total:.2f} s |"
            for label, (first, total) in results.items()
        ),
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.long_document")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(measure(args.runs))
    table = render(results, args.runs)
    print(table)
    if not args.no_write:
        path = ROOT / "docs" / "performance.md"
        text = path.read_text()
        if START in text:
            head, rest = text.split(START, 1)
            text = head + table + rest.split(END, 1)[1]
        else:
            text = text.rstrip() + "\n\n## Long documents\n\n" + table + "\n"
        path.write_text(text)


if __name__ == "__main__":
    main()
