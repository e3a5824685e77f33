"""Reads a request body within a deadline and checks it is a JSON object (pure ASGI).

Runs after AuthGate and before FastAPI, for every `/v1` request that carries a body. FastAPI
would answer a body it cannot parse with a bare 400 and a missing Content-Type with a puzzling
422; here each gets a JSON error that says what to send. A body that trickles in slower than
`BODY_READ_TIMEOUT_SECONDS` gets 408 and the connection is closed. The body is then replayed to
the application unchanged; later `receive()` calls reach the server (disconnect detection).
"""

import asyncio
import json
from email.message import Message as MimeMessage
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import Failure, error_response
from app.scope import REQUEST_ID

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
PROTECTED_PREFIX = "/v1/"
_CLOSE = {"Connection": "close"}


class BodyRefused(Exception):
    def __init__(self, status: int, code: str, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.kind = kind


def is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    mime = MimeMessage()
    mime["content-type"] = content_type
    subtype = mime.get_content_subtype()
    charset = mime.get_content_charset()
    return (
        mime.get_content_maintype() == "application"
        and (subtype == "json" or subtype.endswith("+json"))
        and charset in (None, "utf-8", "utf8")
    )


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or BodyRefused with a message a person can act on."""

    def invalid(kind: str, message: str) -> BodyRefused:
        return BodyRefused(422, "validation_error", message, kind)

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid(
            "utf8_invalid", f"the request body is not valid UTF-8 (byte {exc.start})"
        ) from None
    try:
        parsed = json.loads(text, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise invalid(
            "json_invalid",
            f"the request body must be a JSON object: {exc.msg} "
            f"(line {exc.lineno}, column {exc.colno})",
        ) from None
    except RecursionError:
        raise invalid("json_too_deep", "the request body is nested too deeply") from None
    except ValueError as exc:
        # The interpreter's limit on integer digits (CVE-2020-10735), or NaN/Infinity.
        reason = "a number is too long" if "digits" in str(exc) else str(exc)
        raise invalid("json_invalid", f"the request body is not valid JSON: {reason}") from None
    if not isinstance(parsed, dict):
        raise invalid(
            "json_not_object",
            'the request body must be a JSON object such as {"content": "..."}',
        )
    return parsed


async def read_body(receive: Receive) -> bytes | None:
    """The whole body; None when the client went away."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class JsonBodyMiddleware:
    def __init__(self, app: ASGIApp, read_timeout: float) -> None:
        self.app = app
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in BODY_METHODS
            or not scope["path"].startswith(PROTECTED_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), None)
        try:
            if not is_json_media_type(content_type.decode("latin-1") if content_type else None):
                raise BodyRefused(
                    415,
                    "unsupported_media_type",
                    "send the body as JSON with the header Content-Type: application/json",
                )
            try:
                async with asyncio.timeout(self.read_timeout):
                    body = await read_body(receive)
            except TimeoutError:
                raise BodyRefused(
                    408,
                    "request_timeout",
                    f"the request body did not arrive within {self.read_timeout:g}s",
                ) from None
            if body is None:
                return
            parse_json_object(body)
        except BodyRefused as refused:
            await self._refuse(scope, receive, send, refused)
            return
        except HTTPException as exc:  # the body limit, raised from inside receive()
            too_large = BodyRefused(exc.status_code, "payload_too_large", exc.detail)
            await self._refuse(scope, receive, send, too_large)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, refused: BodyRefused) -> None:
        details = None
        if refused.kind is not None:
            details = [{"loc": ["body"], "msg": refused.message, "type": refused.kind}]
        failure = Failure(refused.code, refused.message, refused.status)
        # Unread or unusable bytes may still be on the connection: do not reuse it.
        response = error_response(
            failure, scope["state"].get(REQUEST_ID), headers=_CLOSE, details=details
        )
        await response(scope, receive, send)
