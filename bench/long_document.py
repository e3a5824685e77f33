"""A 135 000-character Terms of Service against the OpenAI-compatible test server: sectioned
(LLM_SECTION_CHARS=20000, the default concurrency) beside one request (LLM_SECTION_CHARS=0).

The product runs as its container does (`uvicorn app.main:app`, production settings, SQLite),
the test server in a process of its own. The server models a hosted model's two costs: prefill, a first-token delay proportional to the
prompt (PREFILL_SECONDS_PER_CHAR), and decoding, a delay per output token (TOKEN_SECONDS). Each
section answers with three findings; one request answers with all of them. Reported: time to
the first finding and to `[DONE]`, medians of interleaved runs.

Run: uv run python -m bench.long_document [--runs 3] [--no-write]
"""

import argparse
import json
import re
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

from app.analyses.sections import split_sections
from app.cli import mint_token
from bench import report
from bench.services import SECRET, Service, migrate, product_app
from bench.upstream import Upstream
from devtools.openai_server import split_tokens
from devtools.processes import ROOT

SECTION_CHARS = 20_000
DOCUMENT_CHARS = 135_000
TOKEN_SECONDS = 0.01
PREFILL_SECONDS_PER_CHAR = 20e-6
FINDINGS_PER_SECTION = 3
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


def answer(findings: list[dict[str, object]]) -> list[str]:
    return split_tokens(json.dumps({"findings": findings, "summary": "Findings listed above."}))


def queue_answers(upstream: Upstream, content: str, sectioned: bool) -> None:
    upstream.reset()
    spans = split_sections(content, SECTION_CHARS)
    if not sectioned:
        found = [f for s, e in spans for f in findings_of(content[s:e], FINDINGS_PER_SECTION)]
        prefill = len(content) * PREFILL_SECONDS_PER_CHAR
        upstream.queue(answer(found), TOKEN_SECONDS, prefill)
        return
    for start, end in spans:
        found = findings_of(content[start:end], FINDINGS_PER_SECTION)
        upstream.queue(answer(found), TOKEN_SECONDS, (end - start) * PREFILL_SECONDS_PER_CHAR)
    summary = split_tokens("The document is risky in places; negotiate the liability terms.")
    upstream.queue(summary, TOKEN_SECONDS, PREFILL_SECONDS_PER_CHAR * 4_000)


def one_run(service: Service, content: str) -> tuple[float, float]:
    """Seconds from the request to the first finding and to `[DONE]`."""
    token = mint_token(SECRET, "bench", "bench-org", "analyst")
    with httpx.Client(timeout=600) as client:
        started = time.perf_counter()
        first = None
        with client.stream(
            "POST",
            f"{service.url}/v1/analyse/stream",
            params={"format": "events"},
            json={"content": content, "document_type": "terms_of_service"},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status_code == 200, response.read()
            for line in response.iter_lines():
                if first is None and line == "event: finding":
                    first = time.perf_counter() - started
                if line == "data: [DONE]":
                    break
        total = time.perf_counter() - started
    assert first is not None
    return first, total


def measure(runs: int) -> dict[str, tuple[float, float]]:
    content = document()
    samples: dict[str, list[tuple[float, float]]] = {"one request": [], "sectioned": []}
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        upstream = Upstream()
        services: dict[str, Service] = {}
        try:
            for label, section_chars in (("one request", 0), ("sectioned", SECTION_CHARS)):
                app = product_app(
                    label.replace(" ", "-"),
                    upstream.base_url,
                    f"sqlite+aiosqlite:///{workdir / 'long.db'}",
                    workdir,
                )
                app = replace(
                    app,
                    env={
                        **app.env,
                        "LLM_SECTION_CHARS": str(section_chars),
                        "STREAM_MAX_SECONDS": "600",
                        "FIRST_TOKEN_TIMEOUT_SECONDS": "120",
                        "LLM_TIMEOUT_SECONDS": "120",
                    },
                )
                migrate(app, workdir / "migrate.log")
                services[label] = Service(app, workdir / f"{app.name}.log")
                services[label].wait(app.ready_path)
            for _ in range(runs):
                for label, service in services.items():
                    queue_answers(upstream, content, label == "sectioned")
                    samples[label].append(one_run(service, content))
        finally:
            for service in services.values():
                service.close()
            upstream.close()
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
    results = measure(args.runs)
    table = render(results, args.runs)
    print(table)
    if not args.no_write:
        report.write_block(ROOT / "docs" / "performance.md", table, START, END, "Long documents")


if __name__ == "__main__":
    main()
