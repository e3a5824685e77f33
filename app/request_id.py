"""X-Request-ID: taken from the caller when sane, generated otherwise, echoed on every response."""

import re
import uuid
from contextvars import ContextVar

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import telemetry
from app.scope import BODY_SEND, REQUEST_ID

_SANE = re.compile(rb"^[A-Za-z0-9._:\-]{8,128}$")

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_of(request: Request) -> str | None:
    return current_request_id.get() or request.scope.get("state", {}).get(REQUEST_ID)


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = given.decode() if given and _SANE.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state[REQUEST_ID] = request_id
        state[BODY_SEND] = send
        telemetry.annotate({"app.request_id": request_id})
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
