"""`python -m app.cli analyse FILE`: stream one analysis to the terminal and show it live.

Findings are printed as they arrive, coloured by risk, under a spinner; then the summary and the
analysis id. Every failure is one line on stderr, never a traceback. Exit codes: 0 completed,
1 failed (the service or the analysis), 2 usage (bad arguments, unreadable file, no secret).
"""

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx
from httpx_sse import ServerSentEvent, SSEError, connect_sse
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from app.schemas import AnalysisResult, Finding, FindingEvent, StartEvent

COMPLETED, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130
RISK_STYLE = {"high": "bold red", "medium": "bold yellow", "low": "bold green"}
CONNECT_TIMEOUT = 10.0


class Failure(Exception):
    """One line for the user, and the exit code that goes with it."""

    def __init__(self, line: str, code: int = FAILED) -> None:
        super().__init__(line)
        self.line = line
        self.code = code


@dataclass
class Request:
    path: Path
    document_type: str | None
    url: str
    stream_format: str
    token: str
    as_json: bool


@dataclass
class Progress:
    """What the stream has delivered so far."""

    started: float = field(default_factory=time.monotonic)
    start: StartEvent | None = None
    findings: list[Finding] = field(default_factory=list)
    result: AnalysisResult | None = None
    error: str | None = None


def read_document(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Failure(f"error: {path}: no such file", USAGE) from None
    except IsADirectoryError:
        raise Failure(f"error: {path}: is a directory, not a text file", USAGE) from None
    except UnicodeDecodeError:
        raise Failure(f"error: {path}: not UTF-8 text", USAGE) from None
    except OSError as exc:
        raise Failure(f"error: {path}: {exc.strerror or type(exc).__name__}", USAGE) from None


def http_failure(response: httpx.Response, url: str) -> Failure:
    """The service's JSON error body as one line, with what to do where there is something."""
    response.read()
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", response.reason_phrase or "unexpected response"
    line = f"error: {response.status_code} {code}: {message}"
    if response.status_code == 401:
        line += " (pass a valid token with --token or $TOKEN, or set FASTAPI_JWT_SECRET)"
    elif response.status_code == 413:
        line += " (the document is larger than the service's MAX_BODY_BYTES)"
    elif response.status_code == 429 and (retry := response.headers.get("retry-after")):
        line += f" (retry after {retry} s)"
    elif response.status_code == 404:
        line += f" (is {url} the compliance service?)"
    return Failure(line)


def finding_line(index: int, finding: Finding) -> str:
    style = RISK_STYLE[finding.risk.value]
    return (
        f"[{style}]{index + 1:>2}. {finding.risk.value.upper():<6}[/] "
        f"[dim]{finding.confidence:.0%}[/]  {escape(' '.join(finding.clause.split()))}\n"
        f"    [dim]{escape(finding.explanation)}[/]"
    )


class Display:
    """The live view: a spinner while the stream runs, a line per finding as it arrives."""

    def __init__(self, console: Console, source: Path) -> None:
        self.console = console
        self.source = source
        self.status = console.status("connecting…", spinner="dots")

    def started(self, progress: Progress) -> None:
        assert progress.start is not None
        start = progress.start
        self.console.print(
            f"[bold]Analysing[/] {escape(str(self.source))} with {escape(start.provider)}/"
            f"{escape(start.model)} [dim](analysis {start.analysis_id})[/]"
        )
        self.tick(progress)

    def tick(self, progress: Progress) -> None:
        count = len(progress.findings)
        elapsed = time.monotonic() - progress.started
        noun = "finding" if count == 1 else "findings"
        self.status.update(f"analysing… {count} {noun}, {elapsed:.1f} s")

    def finding(self, progress: Progress) -> None:
        index = len(progress.findings) - 1
        self.console.print(finding_line(index, progress.findings[index]))
        self.tick(progress)

    def finished(self, result: AnalysisResult) -> None:
        counts = dict.fromkeys(RISK_STYLE, 0)
        for finding in result.findings:
            counts[finding.risk.value] += 1
        tally = ", ".join(f"[{RISK_STYLE[r]}]{n} {r}[/]" for r, n in counts.items())
        self.console.print(Panel(escape(result.summary), title="Summary", expand=False))
        self.console.print(f"{len(result.findings)} findings: {tally}")
        self.console.print(f"analysis id: [bold]{result.analysis_id}[/]")


def on_events_event(event: ServerSentEvent, progress: Progress, display: Display) -> None:
    if event.event == "start":
        progress.start = StartEvent.model_validate_json(event.data)
        display.started(progress)
    elif event.event == "finding":
        progress.findings.append(FindingEvent.model_validate_json(event.data).finding)
        display.finding(progress)
    elif event.event == "result":
        progress.result = AnalysisResult.model_validate_json(event.data)
    elif event.event == "error":
        error = json.loads(event.data)
        progress.error = f"{error['code']}: {error['message']}"
    elif event.event == "token":
        display.tick(progress)


def on_ai_sdk_part(event: ServerSentEvent, progress: Progress, display: Display) -> None:
    part = json.loads(event.data)
    kind = part.get("type")
    if kind == "start":
        display.console.print(f"[bold]Analysing[/] {escape(str(display.source))}")
    elif kind == "data-finding":
        progress.findings.append(Finding.model_validate(part["data"]["finding"]))
        display.finding(progress)
    elif kind == "data-analysis":
        progress.result = AnalysisResult.model_validate(part["data"])
    elif kind == "error":
        progress.error = str(part.get("errorText", "the analysis failed"))


def stream(request: Request, body: dict[str, str], display: Display) -> Progress:
    progress = Progress()
    handle = on_ai_sdk_part if request.stream_format == "ai-sdk" else on_events_event
    endpoint = f"{request.url.rstrip('/')}/v1/analyse/stream"
    timeout = httpx.Timeout(CONNECT_TIMEOUT, read=None)
    headers = {"Authorization": f"Bearer {request.token}"}
    with (
        httpx.Client(timeout=timeout) as client,
        connect_sse(
            client,
            "POST",
            endpoint,
            params={"format": request.stream_format},
            json=body,
            headers=headers,
        ) as source,
    ):
        if source.response.status_code != 200:
            raise http_failure(source.response, request.url)
        for event in source.iter_sse():
            # Heartbeats and the closing [DONE] carry no event to show.
            if event.data and event.data != "[DONE]":
                handle(event, progress, display)
    return progress


def analyse(request: Request, out: TextIO | None = None) -> int:
    """Run one analysis; every failure is one line on stderr."""
    out = out or sys.stdout
    # With --json the live view goes to stderr, so stdout is exactly the AnalysisResult.
    console = Console(file=sys.stderr if request.as_json else out, highlight=False)
    errors = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    try:
        content = read_document(request.path)
        body = {"content": content}
        if request.document_type is not None:
            body["document_type"] = request.document_type
        display = Display(console, request.path)
        with display.status:
            progress = stream(request, body, display)
        if progress.error is not None:
            raise Failure(f"error: the analysis failed: {progress.error}")
        if progress.result is None:
            raise Failure("error: the stream ended without a result")
        display.finished(progress.result)
        if request.as_json:
            out.write(progress.result.model_dump_json() + "\n")
        return COMPLETED
    except Failure as failure:
        errors.print(escape(failure.line), markup=True)
        return failure.code
    except httpx.ConnectError:
        errors.print(escape(f"error: cannot connect to {request.url} (is the service running?)"))
    except httpx.TimeoutException:
        errors.print(escape(f"error: {request.url} did not answer in {CONNECT_TIMEOUT:.0f} s"))
    except (httpx.TransportError, SSEError, ValidationError, ValueError) as exc:
        errors.print(escape(f"error: the stream broke off: {type(exc).__name__}"))
    except KeyboardInterrupt:
        errors.print("cancelled")
        return INTERRUPTED
    return FAILED
