"""The three wire formats of `/v1/analyse/stream`, each a small encoder of Server-Sent Events.

- `tokens`: the article's format, byte for byte: `data: {"token": "..."}` per chunk, `[DONE]`.
- `events`: named events with ids: start, token, finding, result, error.
- `ai-sdk`: the Vercel AI SDK UI message stream protocol v1 (a Markdown report plus data parts).
"""

import json
from typing import ClassVar, Protocol

from app.schemas import (
    AnalysisResult,
    ErrorInfo,
    Finding,
    FindingEvent,
    SectionEvent,
    SectionState,
    StartEvent,
    StreamFormat,
    StreamMetadata,
)

DONE = b"data: [DONE]\n\n"
# A comment line with no blank line after it: the SSE specification ignores it, and since no
# blank line follows, no parser dispatches an (empty) event for it. It is only sent between two
# complete events, so the next event's lines follow it as usual.
PING = b": ping\n"
SSE_HEADERS = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


class Encoder(Protocol):
    headers: ClassVar[dict[str, str]]

    def opening(self, start: StartEvent) -> bytes: ...
    def token(self, text: str) -> bytes: ...
    def finding(self, index: int, finding: Finding) -> bytes: ...
    def section(self, index: int, total: int, state: str) -> bytes: ...
    def result(self, result: AnalysisResult, metadata: StreamMetadata) -> bytes: ...
    def error(self, error: ErrorInfo) -> bytes: ...


def _data(payload: str) -> bytes:
    return f"data: {payload}\n\n".encode()


class TokensEncoder:
    headers: ClassVar[dict[str, str]] = {}

    def opening(self, start: StartEvent) -> bytes:
        return b""

    def token(self, text: str) -> bytes:
        # json.dumps with its default separators: the exact bytes of the article's code.
        return b'data: {"token": ' + json.dumps(text).encode() + b"}\n\n"

    def finding(self, index: int, finding: Finding) -> bytes:
        return b""

    def section(self, index: int, total: int, state: str) -> bytes:
        return b""

    def result(self, result: AnalysisResult, metadata: StreamMetadata) -> bytes:
        return DONE

    def error(self, error: ErrorInfo) -> bytes:
        return _data(json.dumps({"error": error.model_dump(exclude={"details"})})) + DONE


class EventsEncoder:
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, first_id: int = 0) -> None:
        self._id = first_id

    def _event(self, name: str, payload: str) -> bytes:
        event_id = self._id
        self._id += 1
        return f"id: {event_id}\nevent: {name}\ndata: {payload}\n\n".encode()

    def opening(self, start: StartEvent) -> bytes:
        return self._event("start", start.model_dump_json())

    def token(self, text: str) -> bytes:
        event_id = self._id
        self._id += 1
        return b'id: %d\nevent: token\ndata: {"token":%s}\n\n' % (
            event_id,
            json.dumps(text).encode(),
        )

    def finding(self, index: int, finding: Finding) -> bytes:
        return self._event("finding", FindingEvent(index=index, finding=finding).model_dump_json())

    def section(self, index: int, total: int, state: str) -> bytes:
        progress = SectionEvent(index=index, total=total, state=SectionState(state))
        return self._event("section", progress.model_dump_json())

    def result(self, result: AnalysisResult, metadata: StreamMetadata) -> bytes:
        return self._event("result", result.model_dump_json()) + DONE

    def error(self, error: ErrorInfo) -> bytes:
        return self._event("error", error.model_dump_json(exclude={"details"})) + DONE


_RISK_LABEL = {"high": "High risk", "medium": "Medium risk", "low": "Low risk"}


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())


def finding_markdown(index: int, finding: Finding) -> str:
    label = _RISK_LABEL[finding.risk.value]
    return (
        f"### {index + 1}. {label} ({finding.confidence:.0%} confidence)\n\n"
        f"{_quote(finding.clause)}\n\n{finding.explanation}\n\n"
    )


class AiSdkEncoder:
    """UI message stream protocol v1: only the documented chunk types and keys."""

    headers: ClassVar[dict[str, str]] = {"x-vercel-ai-ui-message-stream": "v1"}
    TEXT_ID = "report"

    def __init__(self) -> None:
        self._wrote_heading = False

    @staticmethod
    def _part(part: dict[str, object]) -> bytes:
        return _data(json.dumps(part, separators=(",", ":"), ensure_ascii=False))

    def _delta(self, text: str) -> bytes:
        return self._part({"type": "text-delta", "id": self.TEXT_ID, "delta": text})

    def opening(self, start: StartEvent) -> bytes:
        return self._part({"type": "start", "messageId": str(start.analysis_id)}) + self._part(
            {"type": "text-start", "id": self.TEXT_ID}
        )

    def token(self, text: str) -> bytes:
        return b""

    def finding(self, index: int, finding: Finding) -> bytes:
        heading = b""
        if not self._wrote_heading:
            self._wrote_heading = True
            heading = self._delta("## Findings\n\n")
        data = {"index": index, "finding": finding.model_dump(mode="json")}
        return (
            heading
            + self._delta(finding_markdown(index, finding))
            + self._part({"type": "data-finding", "id": f"finding-{index}", "data": data})
        )

    def section(self, index: int, total: int, state: str) -> bytes:
        # Transient: progress for the UI, not part of the message history.
        data = {"index": index, "total": total, "state": state}
        return self._part({"type": "data-section", "data": data, "transient": True})

    def result(self, result: AnalysisResult, metadata: StreamMetadata) -> bytes:
        text = "## Summary\n\n" + result.summary
        if not result.findings:
            text = "No compliance risks were found.\n\n" + text
        return (
            self._delta(text)
            + self._part({"type": "text-end", "id": self.TEXT_ID})
            + self._part({"type": "data-analysis", "data": result.model_dump(mode="json")})
            + self._part({"type": "finish", "messageMetadata": metadata.model_dump(mode="json")})
            + DONE
        )

    def error(self, error: ErrorInfo) -> bytes:
        return (
            self._part({"type": "text-end", "id": self.TEXT_ID})
            + self._part({"type": "error", "errorText": error.message})
            + DONE
        )


def encoder_for(stream_format: StreamFormat, first_id: int = 0) -> Encoder:
    """`first_id`: the id of the first event (`events` only), when a replay starts mid-way."""
    if stream_format is StreamFormat.EVENTS:
        return EventsEncoder(first_id)
    if stream_format is StreamFormat.AI_SDK:
        return AiSdkEncoder()
    return TokensEncoder()
