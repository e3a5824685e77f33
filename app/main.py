"""The ASGI entry point, `app.main:app`: liveness first, the application right after.

FastAPI, SQLAlchemy and LangChain take seconds to import on a small container, and a probe that
waits for them makes every cold start slow. This entry point imports only the settings: it
refuses a bad configuration at import (exit code 3, uvicorn's startup failure, so its worker
supervisor does not respawn forever), answers `/health` at once,
and builds the FastAPI application (`app.application`) in a thread while the server is already
listening. Requests that arrive before it is ready wait for it; `/ready` says `loading`.
"""

import asyncio
import logging
import sys
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TYPE_CHECKING, cast

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import ConfigError, Settings, load_settings
from app.errors import Failure, error_response
from app.logs import configure_logging
from app.version import service_version

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.deps import State

logger = logging.getLogger("app")

STARTING = Failure("starting", "the service is starting; retry shortly", 503, True)
# While loading, /ready has checked nothing but the model, which is still being built.
LOADING = {"status": "unavailable", "database": "unchecked", "model": "loading"}


class Entry:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app: ASGIApp | None = None
        self._state: State | None = None
        self._loading: asyncio.Task[None] | None = None
        self._lifespan = AsyncExitStack()
        self._failed = False
        self._health: dict[str, str] = {"status": "ok"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._serve_lifespan(receive, send)
            return
        if self._app is None:
            path = scope.get("path")
            if scope["type"] == "http" and path in ("/health", "/ready"):
                response = (
                    JSONResponse({"status": "failed"}, 503)
                    if self._failed
                    else JSONResponse(self._health)
                    if path == "/health"
                    else JSONResponse(LOADING, 503)
                )
                await response(scope, receive, send)
                return
            if self._loading is not None:
                await asyncio.shield(self._loading)
            if self._app is None:
                response = error_response(STARTING, None, headers={"retry-after": "1"})
                await response(scope, receive, send)
                return
        scope["state"] = dict(self._state or {})
        await self._app(scope, receive, send)

    async def _serve_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                configure_logging(self._settings.log_style, self._settings.log_level)
                # The same body as the loaded application's /health, before it has loaded.
                self._health = {"status": "ok", "version": service_version()}
                self._loading = asyncio.create_task(self._load(self._settings))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._loading is not None:
                    await asyncio.wait((self._loading,))
                await self._lifespan.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _load(self, settings: Settings) -> None:
        def build() -> "FastAPI":
            from app.application import create_app

            return create_app(settings)

        try:
            application = await asyncio.to_thread(build)
            lifespan = cast(
                "AbstractAsyncContextManager[State]",
                application.router.lifespan_context(application),
            )
            self._state = await self._lifespan.enter_async_context(lifespan)
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
