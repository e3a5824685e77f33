"""Refuses request bodies over MAX_BODY_BYTES with 413 before they are read (pure ASGI)."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import Failure, error_response
from app.scope import REQUEST_ID


def _message(limit: int) -> str:
    return f"request body exceeds {limit} bytes"


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        received = 0
        limit = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes through FastAPI's body parsing untouched.
                    raise HTTPException(413, _message(limit))
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Set by RequestIdMiddleware, which runs outside this one.
        request_id = scope.get("state", {}).get(REQUEST_ID)
        failure = Failure("payload_too_large", _message(self.max_bytes), 413)
        response = error_response(failure, request_id, headers={"connection": "close"})
        await response(scope, receive, send)
