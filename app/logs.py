"""Logging: JSON lines (production) or plain text, and one access line per request.

Never log document content, tokens or secrets: the access line carries identifiers, timings and
outcomes only.
"""

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.request_id import current_request_id
from app.scope import ANALYSIS_LOG, REQUEST_ID, USER

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


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return text


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
