"""Logging: JSON lines (production) or plain text, and one access line per request.

Never log document content, tokens or secrets: the access line carries identifiers, timings and
outcomes only.
"""

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.request_id import current_request_id

PROBE_PATHS = ("/health", "/ready", "/metrics")
access_logger = logging.getLogger("app.access")


class JsonFormatter(logging.Formatter):
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


class TextFormatter(logging.Formatter):
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
    # One line per upstream call is noise next to our access line.
    for name in ("httpx", "httpx2", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)
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
        user = state.get("user")
        fields: dict[str, Any] = {
            "method": scope["method"],
            "route": getattr(route, "path", None) or "unmatched",
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "org": getattr(user, "org", None),
            "sub": getattr(user, "sub", None),
        }
        fields.update(state.get("analysis_log", {}))
        metrics = state.get("metrics")
        if metrics is not None:
            metrics.requests.labels(fields["route"], scope["method"], str(status)).inc()
        access_logger.log(
            level,
            "%s %s %d",
            scope["method"],
            fields["route"],
            status,
            extra={"fields": fields, "request_id": state.get("request_id")},
        )
