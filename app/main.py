"""The ASGI entry point, `app.main:app`: liveness first, the application right after.

FastAPI, SQLAlchemy and LangChain take seconds to import on a small container, and a probe that
waits for them makes every cold start slow. This entry point imports only the settings: it
refuses a bad configuration at import (exit code 3, uvicorn's startup failure, so its worker
supervisor does not respawn forever), answers `/health` at once,
and builds the FastAPI application (`app.api`) in a thread while the server is already
listening. Requests that arrive before it is ready wait for it; `/ready` says `loading`.
"""

import asyncio
import json
import logging
import sys
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import ConfigError, Settings, load_settings
from app.logs import configure_logging

logger = logging.getLogger("app")


def _json(status: int, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    payload = json.dumps(body).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": payload}


class Entry:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app: ASGIApp | None = None
        self._state: dict[str, Any] = {}
        self._loading: asyncio.Task[None] | None = None
        self._lifespan: Any = None
        self._failed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._serve_lifespan(receive, send)
            return
        if self._app is None:
            path = scope.get("path")
            if scope["type"] == "http" and path in ("/health", "/ready"):
                status, body = (
                    (503, {"status": "failed"})
                    if self._failed
                    else (200, {"status": "ok"})
                    if path == "/health"
                    else (503, {"status": "unavailable", "database": "down", "model": "loading"})
                )
                for message in _json(status, body):
                    await send(message)
                return
            if self._loading is not None:
                await asyncio.shield(self._loading)
            if self._app is None:
                for message in _json(
                    503, {"error": {"code": "unavailable", "message": "starting"}}
                ):
                    await send(message)
                return
        scope["state"] = dict(self._state)
        await self._app(scope, receive, send)

    async def _serve_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                configure_logging(self._settings.log_style, self._settings.log_level)
                self._loading = asyncio.create_task(self._load(self._settings))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._loading is not None:
                    await asyncio.wait((self._loading,))
                if self._lifespan is not None:
                    await self._lifespan.__aexit__(None, None, None)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _load(self, settings: Settings) -> None:
        def build() -> Any:
            from app.api import create_app

            return create_app(settings)

        try:
            application = await asyncio.to_thread(build)
            self._lifespan = application.router.lifespan_context(application)
            self._state = dict(await self._lifespan.__aenter__() or {})
            self._app = application
        except Exception:
            self._failed = True
            logger.exception("the application could not be built")


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"refusing to start: {exc}\n")
        raise SystemExit(3) from None


app = Entry(_settings_or_exit())
