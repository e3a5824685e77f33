"""A real OpenAI-compatible chat-completions HTTP server for tests and benchmarks.

Importable (``from devtools.openai_server import OpenAIServer, Script``) and runnable::

    python devtools/openai_server.py --port 0 --tokens 200 --delay 0.1

Control paths for benchmarks (never recorded, never counted in ``stats``):
``GET /_stats``, ``GET /_requests?since=N`` (timings of recorded requests, ``--record``),
``POST /_script`` (a JSON object of ``Script`` fields becomes the default script) and
``POST /_reset`` (forget recorded requests and queued scripts, restore the initial default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http
import json
import re
import resource
import signal
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "DEFAULT_TEXT",
    "OpenAIServer",
    "RecordedRequest",
    "Script",
    "main",
    "response_format_problem",
]

DEFAULT_TEXT = "Hello! This is a scripted response from the test server."
SYSTEM_FINGERPRINT = "fp_testserver"

_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 32 * 1024 * 1024
_READ_SIZE = 64 * 1024
_AZURE_PATH = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")
_ERROR_KINDS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "bad_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "not_found"),
    408: ("timeout_error", "request_timeout"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", "unprocessable_entity"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", "internal_error"),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "gateway_timeout"),
}


# Structured outputs, as both OpenAI and Azure OpenAI check a strict schema: the keywords both
# accept (Azure refuses numeric and length bounds, patterns and formats), and their limits.
_STRICT_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "enum", "const"}
    | {"anyOf", "description", "title", "$ref", "$defs", "definitions"}
)
_STRICT_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_STRICT_MAX_DEPTH = 10
_STRICT_MAX_PROPERTIES = 5000
_STRICT_MAX_ENUM_VALUES = 1000
_SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The first Azure OpenAI API version with structured outputs.
_AZURE_STRUCTURED_OUTPUTS = "2024-08-01-preview"


def response_format_problem(body: dict[str, Any], azure_api_version: str | None) -> str | None:
    """Why the server would refuse the request's ``response_format`` (None: accepted)."""
    if "response_format" not in body:
        return None
    fmt = body["response_format"]
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        return "response_format.type must be one of text, json_object, json_schema"
    if fmt["type"] != "json_schema":
        return None
    if azure_api_version is not None and azure_api_version < _AZURE_STRUCTURED_OUTPUTS:
        return f"response_format json_schema needs api-version {_AZURE_STRUCTURED_OUTPUTS} or later"
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict) or not _SCHEMA_NAME.match(str(spec.get("name", ""))):
        return "response_format.json_schema.name must match ^[a-zA-Z0-9_-]{1,64}$"
    name = spec["name"]
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        return f"Invalid schema for response_format '{name}': schema must be an object"
    if spec.get("strict") is not True:
        return None
    problem = _strict_problem(schema)
    return f"Invalid schema for response_format '{name}': {problem}" if problem else None


def _strict_problem(root: dict[str, Any]) -> str | None:
    if root.get("type") != "object":
        return "the root schema must be of type 'object'"
    definitions: dict[str, Any] = {**root.get("definitions", {}), **root.get("$defs", {})}
    counts = {"properties": 0, "enum": 0}

    def check(node: Any, where: str, depth: int) -> str | None:
        if not isinstance(node, dict):
            return f"{where}: a schema must be an object"
        if depth > _STRICT_MAX_DEPTH:
            return f"{where}: more than {_STRICT_MAX_DEPTH} levels of nesting"
        unknown = sorted(set(node) - _STRICT_KEYWORDS)
        if unknown:
            return f"{where}: '{unknown[0]}' is not permitted"
        if "$ref" in node:
            if set(node) - {"$ref", "description", "title"}:
                return f"{where}: a $ref must not have sibling keywords"
            target = str(node["$ref"]).rsplit("/", 1)[-1]
            return None if target in definitions else f"{where}: unresolved $ref {node['$ref']}"
        for index, option in enumerate(node.get("anyOf", ())):
            if problem := check(option, f"{where}.anyOf[{index}]", depth + 1):
                return problem
        types = node.get("type")
        for kind in types if isinstance(types, list) else [types]:
            if kind is not None and kind not in _STRICT_TYPES:
                return f"{where}: unknown type {kind!r}"
        if "enum" in node:
            counts["enum"] += len(node["enum"])
            if counts["enum"] > _STRICT_MAX_ENUM_VALUES:
                return f"more than {_STRICT_MAX_ENUM_VALUES} enum values in all"
        if types == "object" or "properties" in node:
            properties = node.get("properties", {})
            if node.get("additionalProperties") is not False:
                return f"{where}: 'additionalProperties' is required to be supplied and to be false"
            missing = sorted(set(properties) - set(node.get("required", ())))
            if missing:
                return (
                    f"{where}: 'required' is required to be supplied and to be an array "
                    f"including every key in properties. Missing '{missing[0]}'"
                )
            counts["properties"] += len(properties)
            if counts["properties"] > _STRICT_MAX_PROPERTIES:
                return f"more than {_STRICT_MAX_PROPERTIES} properties in all"
            for key, sub in properties.items():
                if problem := check(sub, f"{where}.{key}", depth + 1):
                    return problem
        if "items" in node and (problem := check(node["items"], f"{where}[]", depth + 1)):
            return problem
        return None

    for key, definition in definitions.items():
        if problem := check(definition, f"$defs.{key}", 1):
            return problem
    return check({k: v for k, v in root.items() if k not in ("$defs", "definitions")}, "root", 0)


def split_tokens(text: str) -> list[str]:
    """Split text into word tokens that keep their trailing whitespace."""
    return re.findall(r"\S+\s*", text)


def numbered_tokens(count: int) -> list[str]:
    return [f"tok{i} " for i in range(count)]


def _default_tokens() -> list[str]:
    return split_tokens(DEFAULT_TEXT)


@dataclass(frozen=True)
class Script:
    """How the server answers one chat-completion request.

    Chunk counts (``cut_after``, ``invalid_json_after``, ``hang_after``) count content
    chunks; 0 means right after the headers and the role chunk, ``len(tokens)`` or more
    means before the finish chunk. The smallest one wins.
    """

    tokens: list[str] = field(default_factory=_default_tokens)
    delay: float = 0.0
    first_token_delay: float = 0.0
    status: int | None = None
    error_message: str | None = None
    retry_after: float | None = None
    cut_after: int | None = None
    invalid_json_after: int | None = None
    hang: bool = False
    hang_after: int | None = None
    prompt_tokens: int = 10
    finish_reason: str = "stop"

    @classmethod
    def from_text(cls, text: str, **kwargs: Any) -> Script:
        return cls(tokens=split_tokens(text), **kwargs)

    @classmethod
    def parse(cls, spec: str) -> Script:
        """Parse ``tokens=100,delay=0.1,status=500`` (``tokens`` is a count)."""
        kwargs: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, value = item.partition("=")
            key = key.strip()
            value = value.strip()
            if key == "tokens":
                kwargs["tokens"] = numbered_tokens(int(value))
            elif key == "text":
                kwargs["tokens"] = split_tokens(value)
            elif types.get(key) == "bool":
                kwargs[key] = not sep or value.lower() in ("1", "true", "yes", "on")
            elif key not in types or not sep:
                raise ValueError(f"invalid script item {item!r}")
            elif "float" in str(types[key]):
                kwargs[key] = float(value)
            elif "int" in str(types[key]):
                kwargs[key] = int(value)
            else:
                kwargs[key] = value
        return cls(**kwargs)

    @property
    def content(self) -> str:
        return "".join(self.tokens)


@dataclass(eq=False)
class RecordedRequest:
    """One request as seen by the server; mutated by the server thread while it answers."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    received_at: float
    connection_id: int = 0
    script: Script | None = None
    status: int | None = None
    first_chunk_at: float | None = None
    chunks_sent: int = 0
    completed: bool = False
    finished_at: float | None = None
    disconnected_at: float | None = None
    _disconnected: threading.Event = field(default_factory=threading.Event, repr=False)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def is_azure(self) -> bool:
        return self.path.startswith("/openai/")

    @property
    def deployment(self) -> str | None:
        match = _AZURE_PATH.match(self.path)
        return unquote(match.group(1)) if match else None

    @property
    def api_version(self) -> str | None:
        return self.query.get("api-version")

    @property
    def api_key(self) -> str | None:
        """``api-key`` for Azure paths, else the ``Authorization: Bearer`` token."""
        if self.is_azure and "api-key" in self.headers:
            return self.headers["api-key"]
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None

    @property
    def model(self) -> str | None:
        model = self.body.get("model") if isinstance(self.body, dict) else None
        return model if isinstance(model, str) else self.deployment

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True

    @property
    def disconnected(self) -> bool:
        return self.disconnected_at is not None

    def wait_disconnected(self, timeout: float | None = None) -> bool:
        return self._disconnected.wait(timeout)

    def wait_finished(self, timeout: float | None = None) -> bool:
        """Wait until the server stopped answering (completed, failed, cut or disconnected)."""
        return self._finished.wait(timeout)

    async def wait_disconnected_async(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self._disconnected.wait, timeout)

    async def wait_finished_async(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self._finished.wait, timeout)

    def _mark_disconnected(self) -> None:
        if self.disconnected_at is None and self.finished_at is None:
            self.disconnected_at = time.monotonic()
            self._disconnected.set()
            self._finish()

    def _finish(self) -> None:
        if self.finished_at is None:
            self.finished_at = time.monotonic()
        self._finished.set()


class _BadRequestError(Exception):
    pass


class _Connection:
    __slots__ = ("buf", "eof", "id", "reader", "writer")

    def __init__(
        self, conn_id: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.id = conn_id
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()
        self.eof = False

    async def fill(self) -> None:
        try:
            data = await self.reader.read(_READ_SIZE)
        except (ConnectionError, OSError):
            data = b""
        if data:
            self.buf += data
        else:
            self.eof = True

    async def read_head(self) -> bytes | None:
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[:end])
                del self.buf[: end + 4]
                return head
            if len(self.buf) > _MAX_HEADER_BYTES:
                raise _BadRequestError("request head too large")
            if self.eof:
                return None
            await self.fill()

    async def read_exactly(self, size: int) -> bytes | None:
        while len(self.buf) < size:
            if self.eof:
                return None
            await self.fill()
        data = bytes(self.buf[:size])
        del self.buf[:size]
        return data

    async def read_line(self) -> bytes | None:
        while (end := self.buf.find(b"\r\n")) < 0:
            if self.eof or len(self.buf) > _MAX_HEADER_BYTES:
                return None
            await self.fill()
        line = bytes(self.buf[:end])
        del self.buf[: end + 2]
        return line

    async def read_chunked(self) -> bytes | None:
        body = bytearray()
        while True:
            line = await self.read_line()
            if line is None:
                return None
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _BadRequestError("invalid chunk size") from exc
            if size == 0:
                while (trailer := await self.read_line()) is not None and trailer:
                    pass
                return bytes(body)
            if len(body) + size > _MAX_BODY_BYTES:
                raise _BadRequestError("request body too large")
            data = await self.read_exactly(size + 2)
            if data is None:
                return None
            body += data[:-2]

    async def watch(self, on_eof: Callable[[], None]) -> None:
        # Runs while a response is being produced; bytes that arrive early (a pipelined
        # next request) stay in ``buf`` for the request parser.
        while not self.eof:
            await self.fill()
        on_eof()


class OpenAIServer:
    """Threaded asyncio HTTP/1.1 server speaking the OpenAI chat-completions protocol."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default_script: Script | None = None,
        expected_api_key: str | None = None,
        record: bool = True,
        use_uvloop: bool = False,
    ) -> None:
        self.host = host
        self.expected_api_key = expected_api_key
        self.record = record
        self.use_uvloop = use_uvloop
        self._initial_script = default_script or Script()
        self._default_script = self._initial_script
        self._requested_port = port
        self._port: int | None = None
        self._lock = threading.Condition()
        self._queue: deque[Script] = deque()
        self._requests: list[RecordedRequest] = []
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self._connections = 0
        self.errors: list[BaseException] = []
        self.stats = {"requests": 0, "completed": 0, "disconnected": 0, "errors": 0}

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("server already started")
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, name="openai-test-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError("OpenAI test server failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop_event.set)
        thread.join()
        self._thread = None
        self._port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server is not running")
        return self._port

    @property
    def azure_endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.azure_endpoint}/v1"

    # -- scripting and recording -----------------------------------------------------

    @property
    def default_script(self) -> Script:
        with self._lock:
            return self._default_script

    @default_script.setter
    def default_script(self, script: Script) -> None:
        with self._lock:
            self._default_script = script

    def script(self, script: Script, times: int = 1) -> None:
        """Queue ``script`` for the next ``times`` chat-completion requests (FIFO)."""
        with self._lock:
            self._queue.extend([script] * times)

    @property
    def pending_scripts(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget queued scripts and recorded requests; restore the initial default."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._default_script = self._initial_script

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests were recorded; return all of them."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"expected {n} requests, got {len(self._requests)}")
            return list(self._requests)

    async def wait_for_requests_async(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        return await asyncio.to_thread(self.wait_for_requests, n, timeout)

    def _next_script(self) -> Script:
        with self._lock:
            return self._queue.popleft() if self._queue else self._default_script

    def _record(self, req: RecordedRequest) -> None:
        self.stats["requests"] += 1
        if self.record:
            with self._lock:
                self._requests.append(req)
                self._lock.notify_all()

    # -- event loop ------------------------------------------------------------------

    def _run(self) -> None:
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
        if self.use_uvloop:
            with contextlib.suppress(ImportError):
                import uvloop

                loop_factory = uvloop.new_event_loop
        try:
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                runner.run(self._serve())
        except BaseException as exc:
            if not self._ready.is_set():
                self._startup_error = exc
            else:
                raise
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        server = await asyncio.start_server(
            self._on_connection, self.host, self._requested_port, backlog=4096
        )
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            for task in list(self._conn_tasks):
                task.cancel()
            await asyncio.gather(*self._conn_tasks, return_exceptions=True)
            await server.wait_closed()
            self._loop = None

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        conn = _Connection(self._connections, reader, writer)
        task = asyncio.ensure_future(self._handle_connection(conn))
        self._conn_tasks.add(task)
        task.add_done_callback(self._conn_tasks.discard)

    async def _handle_connection(self, conn: _Connection) -> None:
        try:
            while await self._handle_request(conn):
                pass
        except (ConnectionError, OSError):
            pass
        except Exception as exc:
            self.errors.append(exc)
            traceback.print_exc()
        finally:
            conn.writer.close()

    async def _handle_request(self, conn: _Connection) -> bool:
        """Read and answer one request; return whether the connection stays open."""
        try:
            parsed = await self._read_request(conn)
        except _BadRequestError as exc:
            conn.writer.write(_json_response(400, _error_body(400, str(exc)), keep_alive=False))
            return False
        if parsed is None:
            return False
        req, keep_alive = parsed
        if req.path.startswith("/_"):
            conn.writer.write(self._control(req, keep_alive))
            await conn.writer.drain()
            return keep_alive
        self._record(req)

        response = asyncio.ensure_future(self._respond(conn, req, keep_alive))
        watcher = asyncio.ensure_future(conn.watch(lambda: self._on_client_eof(req, response)))
        try:
            await asyncio.wait({response})
        except asyncio.CancelledError:
            req._finish()
            raise
        finally:
            watcher.cancel()
            response.cancel()
        # The watcher must be gone before the next read on this reader.
        await asyncio.wait({watcher})
        error = None if response.cancelled() else response.exception()
        if isinstance(error, ConnectionError | OSError):
            req._mark_disconnected()
        req._finish()
        self.stats["disconnected"] += req.disconnected
        self.stats["completed"] += req.completed
        if error is not None and not isinstance(error, ConnectionError | OSError):
            self.stats["errors"] += 1
            raise error
        if response.cancelled() or error is not None:
            return False
        return response.result() and keep_alive and not conn.eof

    def _control(self, req: RecordedRequest, keep_alive: bool) -> bytes:
        route = (req.method, req.path)
        if route == ("GET", "/_stats"):
            body: Any = {**self.stats, "recorded": len(self.requests)}
        elif route == ("GET", "/_requests"):
            since = int(req.query.get("since", "0") or 0)
            body = {"requests": [_timings(i, r) for i, r in enumerate(self.requests) if i >= since]}
        elif route in (("POST", "/_script"), ("POST", "/_queue")):
            names = {f.name for f in fields(Script)}
            if not isinstance(req.body, dict) or not set(req.body) <= names:
                return _json_response(
                    400, _error_body(400, f"expected {sorted(names)}"), keep_alive
                )
            script = Script(**req.body)
            # /_script sets the answer to every request, /_queue the answer to the next one.
            if req.path == "/_queue":
                self.script(script)
            else:
                self.default_script = script
            body = {"tokens": len(script.tokens)}
        elif route == ("POST", "/_reset"):
            self.reset()
            body = {}
        else:
            return _json_response(404, _error_body(404, f"Unknown path {req.path}"), keep_alive)
        return _json_response(200, _dumps(body), keep_alive)

    def _on_client_eof(self, req: RecordedRequest, response: asyncio.Future[bool]) -> None:
        if not response.done():
            req._mark_disconnected()
            response.cancel()

    async def _read_request(self, conn: _Connection) -> tuple[RecordedRequest, bool] | None:
        head = await conn.read_head()
        if head is None:
            return None
        received_at = time.monotonic()
        try:
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, version = request_line.split(" ", 2)
        except ValueError as exc:
            raise _BadRequestError("malformed request line") from exc
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequestError("malformed header line")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value

        if "chunked" in headers.get("transfer-encoding", "").lower():
            raw = await conn.read_chunked()
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError as exc:
                raise _BadRequestError("invalid content-length") from exc
            if length < 0 or length > _MAX_BODY_BYTES:
                raise _BadRequestError("invalid content-length")
            raw = await conn.read_exactly(length)
        if raw is None:
            return None

        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        url = urlsplit(target)
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection and (
            version != "HTTP/1.0" or "keep-alive" in connection
        )
        req = RecordedRequest(
            method=method,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            received_at=received_at,
            connection_id=conn.id,
        )
        return req, keep_alive

    # -- responses -------------------------------------------------------------------

    async def _respond(self, conn: _Connection, req: RecordedRequest, keep_alive: bool) -> bool:
        writer = conn.writer
        is_chat = req.path == "/v1/chat/completions" or (_AZURE_PATH.match(req.path) is not None)
        if not is_chat or req.method != "POST":
            return await self._send_error(writer, req, 404, f"Unknown path {req.path}", keep_alive)
        if not isinstance(req.body, dict):
            return await self._send_error(
                writer, req, 400, "Body must be a JSON object", keep_alive
            )
        if self.expected_api_key is not None and req.api_key != self.expected_api_key:
            return await self._send_error(
                writer, req, 401, f"Incorrect API key provided: {req.api_key}", keep_alive
            )

        azure_version = req.api_version if req.is_azure else None
        if problem := response_format_problem(req.body, azure_version):
            return await self._send_error(writer, req, 400, problem, keep_alive)
        model = req.model or "gpt-test"
        spec = next(
            (name for name in (req.deployment, model) if name and name.startswith("script:")),
            None,
        )
        if spec is not None:
            try:
                script = Script.parse(spec.removeprefix("script:"))
            except (ValueError, TypeError) as exc:
                return await self._send_error(writer, req, 400, str(exc), keep_alive)
        else:
            script = self._next_script()
        req.script = script

        if script.hang:
            await asyncio.Future()
        if script.first_token_delay > 0:
            await asyncio.sleep(script.first_token_delay)
        if script.status is not None:
            message = script.error_message or f"Scripted error {script.status}"
            extra = {}
            if script.retry_after is not None:
                extra = {
                    "retry-after-ms": f"{script.retry_after * 1000:g}",
                    "retry-after": f"{script.retry_after:g}",
                }
            return await self._send_error(writer, req, script.status, message, keep_alive, extra)

        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if req.stream:
            options = req.body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            return await self._stream(
                conn, req, script, completion_id, created, model, include_usage, keep_alive
            )
        return await self._complete(conn, req, script, completion_id, created, model, keep_alive)

    async def _send_error(
        self,
        writer: asyncio.StreamWriter,
        req: RecordedRequest,
        status: int,
        message: str,
        keep_alive: bool,
        extra_headers: dict[str, str] | None = None,
    ) -> bool:
        req.status = status
        req.first_chunk_at = time.monotonic()
        req._finish()
        writer.write(
            _json_response(status, _error_body(status, message), keep_alive, extra_headers)
        )
        await writer.drain()
        return True

    async def _complete(
        self,
        conn: _Connection,
        req: RecordedRequest,
        script: Script,
        completion_id: str,
        created: int,
        model: str,
        keep_alive: bool,
    ) -> bool:
        total = script.first_token_delay + script.delay * max(len(script.tokens) - 1, 0)
        if total > 0:
            await asyncio.sleep(total)
        if script.cut_after is not None or script.hang_after is not None:
            if script.hang_after is not None:
                await asyncio.Future()
            req._finish()
            conn.writer.close()
            return False
        if script.invalid_json_after is not None:
            payload = b"{not json"
        else:
            payload = _dumps(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": SYSTEM_FINGERPRINT,
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": script.content,
                                "refusal": None,
                                "annotations": [],
                            },
                            "logprobs": None,
                            "finish_reason": script.finish_reason,
                        }
                    ],
                    "usage": _usage(script),
                    "service_tier": "default",
                }
            )
        req.status = 200
        req.first_chunk_at = time.monotonic()
        req.chunks_sent = len(script.tokens)
        req.completed = script.invalid_json_after is None
        req._finish()
        conn.writer.write(_http_head(200, "application/json", keep_alive, len(payload)) + payload)
        await conn.writer.drain()
        return True

    async def _stream(
        self,
        conn: _Connection,
        req: RecordedRequest,
        script: Script,
        completion_id: str,
        created: int,
        model: str,
        include_usage: bool,
        keep_alive: bool,
    ) -> bool:
        writer = conn.writer
        usage_field = ',"usage":null' if include_usage else ""
        prefix = (
            f'{{"id":"{completion_id}","object":"chat.completion.chunk","created":{created},'
            f'"model":{json.dumps(model)},"service_tier":"default",'
            f'"system_fingerprint":"{SYSTEM_FINGERPRINT}","choices":['
        ).encode()
        suffix = f"]{usage_field}}}\n\n".encode()

        def event(choice: str) -> bytes:
            return _chunk(b"data: " + prefix + choice.encode() + suffix)

        def delta(d: str, finish: str | None = None) -> str:
            reason = "null" if finish is None else json.dumps(finish)
            return f'{{"index":0,"delta":{d},"logprobs":null,"finish_reason":{reason}}}'

        content = [event(delta(f'{{"content":{json.dumps(tok)}}}')) for tok in script.tokens]
        tail = event(delta("{}", script.finish_reason))
        if include_usage:
            tail += _chunk(b"data: " + prefix + b'],"usage":' + _dumps(_usage(script)) + b"}\n\n")
        tail += _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"

        stop_at, action = len(content), ""
        for name, limit in (
            ("cut", script.cut_after),
            ("invalid_json", script.invalid_json_after),
            ("hang", script.hang_after),
        ):
            if limit is not None and (not action or min(limit, len(content)) < stop_at):
                stop_at, action = min(limit, len(content)), name

        req.status = 200
        head = _http_head(200, "text/event-stream; charset=utf-8", keep_alive, None)
        head += event(delta('{"role":"assistant","content":"","refusal":null}'))
        if stop_at > 0:
            head += content[0]
        req.first_chunk_at = time.monotonic()
        req.chunks_sent = min(stop_at, 1)
        writer.write(head)
        await writer.drain()

        delay = script.delay
        if delay <= 0 and stop_at > 1:
            req.chunks_sent = stop_at
            writer.write(b"".join(content[1:stop_at]))
            await writer.drain()
        elif delay > 0:
            for i in range(1, stop_at):
                await asyncio.sleep(delay)
                req.chunks_sent = i + 1
                writer.write(content[i])
                await writer.drain()

        if action == "cut":
            req._finish()
            writer.close()
            return False
        if action == "invalid_json":
            req._finish()
            writer.write(_chunk(b"data: {not json\n\n") + b"0\r\n\r\n")
            await writer.drain()
            return True
        if action == "hang":
            await asyncio.Future()

        # State is published before the final write so a client never observes a
        # finished response with a stale record.
        req.completed = True
        req._finish()
        writer.write(tail)
        await writer.drain()
        return True


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _timings(index: int, req: RecordedRequest) -> dict[str, Any]:
    return {
        "index": index,
        "path": req.path,
        "model": req.model,
        "status": req.status,
        "received_at": req.received_at,
        "first_chunk_at": req.first_chunk_at,
        "chunks_sent": req.chunks_sent,
        "completed": req.completed,
        "finished_at": req.finished_at,
        "disconnected_at": req.disconnected_at,
    }


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def _usage(script: Script) -> dict[str, Any]:
    completion = len(script.tokens)
    return {
        "prompt_tokens": script.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": script.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _error_body(status: int, message: str) -> bytes:
    kind, code = _ERROR_KINDS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", f"http_{status}")
    )
    return _dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


def _http_head(
    status: int,
    content_type: str,
    keep_alive: bool,
    content_length: int | None,
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [
        f"HTTP/1.1 {status} {phrase}",
        f"content-type: {content_type}",
        f"x-request-id: req_{uuid.uuid4().hex}",
        "openai-processing-ms: 1",
        "connection: keep-alive" if keep_alive else "connection: close",
    ]
    if content_length is None:
        lines += ["transfer-encoding: chunked", "cache-control: no-cache"]
    else:
        lines.append(f"content-length: {content_length}")
    lines += [f"{k}: {v}" for k, v in (extra_headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _json_response(
    status: int, body: bytes, keep_alive: bool, extra_headers: dict[str, str] | None = None
) -> bytes:
    return _http_head(status, "application/json", keep_alive, len(body), extra_headers) + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="OpenAI-compatible streaming test server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=None, help="tokens per response")
    parser.add_argument(
        "--text-file", default=None, help="answer with this file's text, in chunks of --chunk chars"
    )
    parser.add_argument(
        "--chunk", type=int, default=8, help="characters per token with --text-file"
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between tokens")
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--prompt-tokens", type=int, default=10)
    parser.add_argument("--api-key", default=None, help="reject requests with another key")
    parser.add_argument("--record", action="store_true", help="keep every request in memory")
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args(argv)
    raise_open_files_limit()

    if args.text_file is not None:
        with open(args.text_file, encoding="utf-8") as answer:
            text = answer.read()
        tokens = [text[i : i + args.chunk] for i in range(0, len(text), args.chunk)]
    elif args.tokens is not None:
        tokens = numbered_tokens(args.tokens)
    else:
        tokens = _default_tokens()
    script = Script(
        tokens=tokens,
        delay=args.delay,
        first_token_delay=args.first_token_delay,
        prompt_tokens=args.prompt_tokens,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = OpenAIServer(
        host=args.host,
        port=args.port,
        default_script=script,
        expected_api_key=args.api_key,
        record=args.record,
        use_uvloop=not args.no_uvloop,
    )
    with server:
        print(server.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    print(f"openai test server stopped: {server.stats}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
