"""One JSON error shape for every failure: `{"error": {code, message, request_id, retryable}}`."""

import json
import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from app.request_id import request_id_of

logger = logging.getLogger("app.errors")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "upstream_error",
    503: "unavailable",
    504: "upstream_timeout",
}


ERROR_DESCRIPTIONS = {
    401: "Missing or invalid bearer token.",
    404: "No such resource in your organisation.",
    408: "The request body did not arrive within BODY_READ_TIMEOUT_SECONDS.",
    413: "Request body too large.",
    415: "The body must be sent with Content-Type: application/json.",
    422: "The request does not validate.",
    429: "Too many analyses for this user or organisation (see Retry-After).",
    502: "The model failed before the first token.",
    503: "The database or the model is unavailable, or the service is shutting down.",
    504: "No first token within FIRST_TOKEN_TIMEOUT_SECONDS.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses: always JSON ErrorBody, whatever the route returns."""
    schema = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        status: {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": schema}},
        }
        for status in statuses
    }


class AppError(Exception):
    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.retryable = retryable
        self.headers = headers


def unauthorized(message: str) -> AppError:
    return AppError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def error_body(
    code: str,
    message: str,
    request_id: str | None,
    *,
    retryable: bool = False,
    details: Any = None,
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "code": code,
        "message": message,
        "request_id": request_id,
        "retryable": retryable,
    }
    if details is not None:
        info["details"] = details
    return {"error": info}


async def send_error(
    send: Send,
    status: int,
    body: dict[str, Any],
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer from pure ASGI middleware, before the application has seen the request."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    body = error_body(exc.code, exc.message, request_id_of(request), retryable=exc.retryable)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    body = error_body(code, message, request_id_of(request), retryable=exc.status_code >= 500)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
    body = error_body(
        "validation_error", f"{where}: {first['msg']}", request_id_of(request), details=details
    )
    return JSONResponse(body, status_code=422)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("database error: %s", type(exc).__name__)
    body = error_body(
        "database_unavailable",
        "the database is unavailable",
        request_id_of(request),
        retryable=True,
    )
    return JSONResponse(body, status_code=503)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error")
    body = error_body("internal_error", "internal error", request_id_of(request), retryable=True)
    return JSONResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
