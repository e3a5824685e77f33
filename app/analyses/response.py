"""The streaming response of an opened analysis, and how the OpenAPI document describes it."""

import asyncio
import logging
from typing import Any

from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from app.analyses.lifecycle import CLIENT_FAILURES, AnalysisLifecycle
from app.analyses.run import Completed, FindingReady, Token
from app.analyses.sections import RunEvent, SectionProgress
from app.analyses.sse import SSE_HEADERS, Encoder
from app.errors import Failure
from app.schemas import ErrorInfo
from app.scope import BODY_SEND

logger = logging.getLogger("app.analyses")

INTERNAL = Failure("internal_error", "the analysis failed unexpectedly", 500, True)


class AnalysisStream(Response):
    """Streams an opened analysis in the chosen format; the status line is already decided."""

    media_type = "text/event-stream"

    def __init__(self, lifecycle: AnalysisLifecycle, first: RunEvent, encoder: Encoder) -> None:
        headers = {
            **SSE_HEADERS,
            **encoder.headers,
            "x-analysis-id": str(lifecycle.analysis_id),
        }
        super().__init__(status_code=200, headers=headers, media_type=self.media_type)
        # A stream has no length: Response.__init__ computed one for its empty body.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.lifecycle = lifecycle
        self.first = first
        self.encoder = encoder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lifecycle, encoder = self.lifecycle, self.encoder
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        # The body skips the inner middlewares (see app.scope.BODY_SEND): measured on the
        # per-token path, and nothing inside them looks at body chunks.
        send = scope.get("state", {}).get(BODY_SEND, send)
        guard = lifecycle.guard
        guard.attach(send)
        failure: Failure | None = None
        try:
            opening = encoder.opening(lifecycle.opening())
            if opening:
                await guard.send(opening)
            event = self.first
            while True:
                if isinstance(event, Token):
                    data = encoder.token(event.text)
                elif isinstance(event, FindingReady):
                    data = encoder.finding(event.index, event.finding)
                elif isinstance(event, SectionProgress):
                    data = encoder.section(event.index, event.total, event.state)
                elif isinstance(event, Completed):
                    await guard.send(encoder.result(lifecycle.result()))
                    break
                else:
                    failure = event.failure
                    await guard.send(encoder.error(self._error(failure)))
                    break
                if data:
                    await guard.send(data)
                event = await anext(lifecycle.events)
        except asyncio.CancelledError as cancelled:
            failure = await lifecycle.stopped(cancelled)
            if failure not in CLIENT_FAILURES:
                await guard.send_final(encoder.error(self._error(failure)))
        except Exception:
            logger.exception("analysis %s failed mid-stream", lifecycle.analysis_id)
            failure = INTERNAL
            await guard.send_final(encoder.error(self._error(failure)))
        await lifecycle.close(failure)
        await guard.send_final(b"", more_body=False)

    def _error(self, failure: Failure) -> ErrorInfo:
        return ErrorInfo(
            code=failure.code,
            message=failure.message,
            request_id=self.lifecycle.request_id,
            retryable=failure.retryable,
        )


# One Server-Sent Event; `data` is JSON except the final `[DONE]`.
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "event": {
            "type": "string",
            "enum": ["message", "start", "token", "finding", "result", "error"],
        },
        "id": {"type": "string"},
    },
}

STREAM_DESCRIPTION = """\
Streams the analysis as Server-Sent Events once the model's first token is ready; everything that
fails before that gets a real HTTP status and a JSON error body.

- `format=tokens` (default): `data: {"token": "..."}` per model chunk, then `data: [DONE]`.
  A failure mid-stream sends `data: {"error": {"code", "message", "request_id", "retryable"}}`
  and then `data: [DONE]`.
- `format=events`: named events with ids: `start` (StartEvent), `token` (TokenEvent), `finding`
  (FindingEvent, as soon as each finding is complete), `result` (AnalysisResult) or `error`
  (ErrorInfo), then `data: [DONE]`.
- `format=ai-sdk`: the Vercel AI SDK UI message stream protocol v1 (a Markdown report as text
  parts, `data-finding` and `data-analysis` parts), for `useChat` / `useCompletion`.

Comment lines (`: ping`) keep the connection alive while no token flows.
"""

STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An event stream in the requested format.",
        "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
        "headers": {
            "X-Analysis-Id": {"schema": {"type": "string", "format": "uuid"}},
            "X-Request-ID": {"schema": {"type": "string"}},
        },
    },
}
