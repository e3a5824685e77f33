"""One failure, one JSON shape for it: `{"error": {code, message, request_id, retryable}}`.

A `Failure` is what went wrong, wherever it is reported: the HTTP answer of a refused request,
the error event of a stream that had started, the `error_code` of the stored row. Every
middleware, handler and the loading entry answer it through `error_response`.

Light at import: `app.main` uses it before FastAPI is loaded.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request

logger = logging.getLogger("app.errors")


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    message: str
    status_code: int
    retryable: bool = False


class AppError(Exception):
    """A failure raised from a route or dependency; the handlers answer it as JSON."""

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
        self.failure = Failure(code, message, status_code, retryable)
        self.headers = headers

    @classmethod
    def of(cls, failure: Failure, headers: dict[str, str] | None = None) -> "AppError":
        return cls(
            failure.status_code,
            failure.code,
            failure.message,
            retryable=failure.retryable,
            headers=headers,
        )


def unauthorized(message: str) -> AppError:
    return AppError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = Failure("database_unavailable", "the database is unavailable", 503, True)

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
    409: "The analysis is still running and was not started with resumable=true.",
    408: "The request body did not arrive within BODY_READ_TIMEOUT_SECONDS.",
    413: "Request body too large.",
    415: "The body must be sent with Content-Type: application/json.",
    422: "The request does not validate.",
    429: "Too many analyses for this user or organisation (see Retry-After).",
    502: "The model failed before the first token.",
    503: "The database, the model or the event log is unavailable, or the service is shutting "
    "down.",
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


def error_body(
    failure: Failure, request_id: str | None, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "code": failure.code,
        "message": failure.message,
        "request_id": request_id,
        "retryable": failure.retryable,
    }
    if details is not None:
        info["details"] = details
    return {"error": info}


def error_response(
    failure: Failure,
    request_id: str | None,
    *,
    headers: Mapping[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """The answer to a failure; middlewares call it as an ASGI app: `(scope, receive, send)`."""
    body = error_body(failure, request_id, details)
    return JSONResponse(body, status_code=failure.status_code, headers=headers)


def install_error_handlers(app: "FastAPI") -> None:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from app.db import DATABASE_ERRORS, error_name
    from app.request_id import request_id_of

    async def app_error(request: "Request", exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return error_response(exc.failure, request_id_of(request), headers=exc.headers)

    async def http_error(request: "Request", exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        failure = Failure(code, message, exc.status_code, exc.status_code >= 500)
        return error_response(failure, request_id_of(request), headers=exc.headers)

    async def validation_error(request: "Request", exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [
            {
                "loc": list(err.get("loc", ())),
                "msg": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
        failure = Failure("validation_error", f"{where}: {first['msg']}", 422)
        return error_response(failure, request_id_of(request), details=details)

    async def database_error(request: "Request", exc: Exception) -> JSONResponse:
        # The class only: a database error's text can carry statement parameters.
        logger.error("database unavailable: %s", error_name(exc))
        headers = {"retry-after": str(DATABASE_RETRY_AFTER_SECONDS)}
        return error_response(DATABASE_UNAVAILABLE, request_id_of(request), headers=headers)

    async def unexpected_error(request: "Request", exc: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        failure = Failure("internal_error", "internal error", 500, True)
        return error_response(failure, request_id_of(request))

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    # The drivers raise the OS's own errors when the server cannot be reached at all (asyncpg's
    # ConnectionRefusedError is no SQLAlchemyError); in a request, only the database does I/O
    # that can fail this way (the model's failures are mapped where it is called).
    for error in DATABASE_ERRORS:
        app.add_exception_handler(error, database_error)
    app.add_exception_handler(Exception, unexpected_error)
