"""A real local managed-identity token endpoint, as App Service and Container Apps serve it.

The platform gives the app `IDENTITY_ENDPOINT` (this server's URL) and `IDENTITY_HEADER` (a
secret the app sends back as `X-IDENTITY-HEADER`); a GET with `resource` (and `client_id` for a
user-assigned identity) answers `{"access_token", "expires_on", "resource", "token_type"}`.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from devtools.threaded_http import ThreadedHttpServer

__all__ = ["IdentityServer", "TokenRequest"]


@dataclass(frozen=True)
class TokenRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class IdentityServer:
    """Hands out `token` to requests that carry the identity header; `status` makes it fail."""

    def __init__(self, token: str | None = None, lifetime_seconds: int = 3600) -> None:
        self.token = token or f"fake-entra-token-{secrets.token_hex(8)}"
        self.header = secrets.token_hex(16)
        self.lifetime_seconds = lifetime_seconds
        # Set to an HTTP status to answer every request with that error.
        self.status: int | None = None
        # Set to answer every request with these bytes as the body of a 200 (a garbled answer).
        self.raw_body: bytes | None = None
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._http: ThreadedHttpServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._http is not None, "the identity server is not running"
        return f"{self._http.base_url}/msi/token"

    def environment(self) -> dict[str, str]:
        """What the platform sets in the app's environment."""
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.header}

    def start(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                request = TokenRequest(
                    url.path,
                    dict(parse_qsl(url.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                )
                with server._lock:
                    server.requests.append(request)
                status, body = server.answer(request)
                payload = json.dumps(body).encode()
                if server.raw_body is not None:
                    status, payload = 200, server.raw_body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadedHttpServer(Handler, "identity-server")
        return self

    def answer(self, request: TokenRequest) -> tuple[int, dict[str, Any]]:
        if self.status is not None:
            return self.status, {"statusCode": self.status, "message": "scripted failure"}
        if request.path != "/msi/token":
            return 404, {"statusCode": 404, "message": "unknown path"}
        if request.headers.get("x-identity-header") != self.header:
            return 401, {"statusCode": 401, "message": "missing or wrong X-IDENTITY-HEADER"}
        resource = request.query.get("resource")
        if not resource or "api-version" not in request.query:
            return 400, {"statusCode": 400, "message": "resource and api-version are required"}
        body = {
            "access_token": self.token,
            "expires_on": str(int(time.time()) + self.lifetime_seconds),
            "resource": resource,
            "token_type": "Bearer",
        }
        if "client_id" in request.query:
            body["client_id"] = request.query["client_id"]
        return 200, body

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
