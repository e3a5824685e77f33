"""Logging: JSON lines (production) or plain text, and one access line per request.

Never log document content, tokens or secrets: the access line carries identifiers, timings and
outcomes only.
"""

import json
import logging
import re
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.request_id import current_request_id
from app.scope import ANALYSIS_LOG, REQUEST_ID, USER
from app.telemetry import trace_ids

PROBE_PATHS = ("/health", "/ready", "/metrics")
QUIET_LIBRARIES = (
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "openai",
    "langchain",
    "langchain_openai",
    "aiosqlite",
    "asyncpg",
    "sqlalchemy",
    "azure",
    "msal",
    "urllib3",
)
access_logger = logging.getLogger("app.access")


# Exceptions whose message can quote what was being written or validated: a database
# driver's (PostgreSQL's CONTEXT line shows the JSON it refused), SQLAlchemy's, pydantic's
# (input_value=...). Their tracebacks keep the type, the SQLSTATE and every frame.
_DATA_BEARING_MODULES = ("sqlalchemy", "asyncpg", "sqlite3", "aiosqlite", "pydantic")


def _describe(exc: BaseException) -> str:
    kind = type(exc)
    name = f"{kind.__module__}.{kind.__qualname__}"
    if not kind.__module__.startswith(_DATA_BEARING_MODULES):
        return f"{name}: {exc}"
    sqlstate = getattr(exc, "sqlstate", None) or getattr(
        getattr(exc, "orig", None), "sqlstate", None
    )
    suffix = f" (SQLSTATE {sqlstate})" if isinstance(sqlstate, str) else ""
    return f"{name}{suffix}: [message withheld: it may quote stored data]"


def format_exception(exc: BaseException) -> str:
    """A traceback like the interpreter's, without the message of a data-bearing exception."""
    chain: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link: str | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "During handling of the above exception:"
        else:
            current = None
    parts: list[str] = []
    for item, follows in reversed(chain):
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(item.__traceback__))
        parts.append(_describe(item) + "\n")
        if follows is not None:
            parts.append(f"\n{follows}\n\n")
    return "".join(parts).rstrip("\n")


class _SafeTracebacks(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        exc = ei[1] if isinstance(ei, tuple) else None
        if isinstance(exc, BaseException):
            return format_exception(exc)
        return super().formatException(ei)


class JsonFormatter(_SafeTracebacks):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            entry["request_id"] = request_id
        if (ids := trace_ids()) is not None:
            entry["trace_id"], entry["span_id"] = ids
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


# Line breaks, escape sequences and other control characters: in a text log line they would
# let a caller's value (a claim, a header) forge or recolour lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(value: object) -> str:
    return _CONTROL.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        str(value),
    )


class TextFormatter(_SafeTracebacks):
    """`LEVEL logger: message key=value…`, every value escaped; a traceback follows as is."""

    def __init__(self) -> None:
        super().__init__("%(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return escape_controls(text)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    pass


def configure_logging(fmt: Literal["json", "text"], level: str) -> None:
    """Idempotent: one stderr handler on the root logger; uvicorn's loggers feed into it."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _OurHandler)), None)
    if handler is None:
        handler = _OurHandler(sys.stderr)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # One line per upstream call is noise next to our access line, and at debug level these
    # libraries log what they send: statements with their parameters, the model request.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # azure-identity's warnings quote the token endpoint's answer, which can hold the token (a
    # truncated or garbled one); our own line names the failure's classes.
    logging.getLogger("azure").setLevel(logging.ERROR)
    # Our access line replaces uvicorn's: it knows the route, the caller and the outcome.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    uvicorn_access.disabled = True


class AccessLogMiddleware:
    """One line (and one count) per request, written when the response or stream has ended."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self._log(scope, status, time.perf_counter() - started)

    @staticmethod
    def _log(scope: Scope, status: int, seconds: float) -> None:
        path = scope["path"]
        level = logging.DEBUG if path in PROBE_PATHS else logging.INFO
        state = scope.get("state", {})
        route = scope.get("route")
        user = state.get(USER)  # set by auth, once the route ran
        fields: dict[str, Any] = {
            "method": scope["method"],
            "route": getattr(route, "path", None) or "unmatched",
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "org": getattr(user, "org", None),
            "sub": getattr(user, "sub", None),
        }
        fields.update(state.get(ANALYSIS_LOG, {}))  # set by an analysis when it closed
        metrics = state.get("metrics")
        if metrics is not None:
            metrics.requests.labels(fields["route"], scope["method"], str(status)).inc()
        access_logger.log(
            level,
            "%s %s %d",
            scope["method"],
            fields["route"],
            status,
            extra={"fields": fields, "request_id": state.get(REQUEST_ID)},
        )
