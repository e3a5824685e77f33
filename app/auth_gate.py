"""Authenticates every `/v1` request before anything reads its body (pure ASGI).

A caller without a valid token learns nothing about the body it sent: no 413, 415 or 422, only
401. The claims are handed to the `CurrentUser` dependency, which consumes the token's `jti`.
"""

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from app import telemetry
from app.auth import InvalidToken, validate_token
from app.config import Settings
from app.errors import Failure, error_response
from app.scope import REQUEST_ID, TOKEN_CLAIMS

logger = logging.getLogger("app.auth")

PROTECTED_PREFIX = "/v1/"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_token(scope: Scope) -> str | None:
    value = next((v for k, v in scope["headers"] if k == b"authorization"), None)
    if value is None:
        return None
    scheme, _, token = value.decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class AuthGate:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A CORS preflight carries no credentials by design; CORSMiddleware answers it.
        if (
            scope["type"] != "http"
            or scope["method"] == "OPTIONS"
            or not scope["path"].startswith(PROTECTED_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is None:
            await self._refuse(scope, receive, send, "missing bearer token")
            return
        try:
            with telemetry.span("auth"):
                claims = validate_token(token, self.settings)
        except InvalidToken as exc:
            logger.info("token rejected: %s", exc)
            await self._refuse(scope, receive, send, f"invalid token: {exc}")
            return
        scope["state"][TOKEN_CLAIMS] = claims
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, message: str) -> None:
        failure = Failure("unauthorized", message, 401)
        response = error_response(failure, scope["state"].get(REQUEST_ID), headers=_CHALLENGE)
        await response(scope, receive, send)
