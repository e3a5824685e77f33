"""docs/wire-formats.md is what scripts/wire_formats.py generates, and every event each encoder
sends validates against the schema the page gives for it."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from app.analyses.sse import encoder_for
from app.schemas import (
    AnalysisResult,
    ErrorInfo,
    Finding,
    RiskLevel,
    StartEvent,
    StreamFormat,
    StreamMetadata,
)
from scripts.wire_formats import FORMATS, OUT, render

FINDING = Finding(
    clause="Liability is unlimited.", risk=RiskLevel.HIGH, explanation="Cap it.", confidence=0.9
)
RESULT = AnalysisResult(
    findings=[FINDING],
    summary="1 finding.",
    processed_at=datetime.now(UTC),
    analysis_id=uuid.uuid4(),
)
START = StartEvent(analysis_id=RESULT.analysis_id, request_id="r-1", provider="local", model="m")
METADATA = StreamMetadata(
    analysis_id=RESULT.analysis_id, prompt_tokens=10, completion_tokens=20, ttft_ms=150
)
ERROR = ErrorInfo(
    code="upstream_error", message="the model failed", request_id="r-1", retryable=True
)


def test_the_committed_page_is_generated() -> None:
    assert OUT.read_text() == render(), "run `make wire-formats` and commit docs/wire-formats.md"


def events_of(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of each event in a stream; comments are not events."""
    found = []
    for block in raw.decode().split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data = value
        if data is not None:
            found.append((name, data))
    return found


def model_for(
    stream_format: str, name: str | None, data: str
) -> tuple[str, type[BaseModel] | None]:
    documented = {event.name: event.model for event in FORMATS[stream_format]}
    if data == "[DONE]":
        return "[DONE]", documented["[DONE]"]
    if stream_format == "ai-sdk":
        key = json.loads(data)["type"]
    elif stream_format == "events":
        key = name or ""
    else:
        key = "error" if "error" in json.loads(data) else "token"
    assert key in documented, f"{stream_format}: {key} is sent but not documented"
    return key, documented[key]


@pytest.mark.parametrize("stream_format", [f.value for f in StreamFormat])
@pytest.mark.parametrize("ending", ["result", "error"])
def test_every_sent_event_validates_against_its_schema(stream_format: str, ending: str) -> None:
    encoder = encoder_for(StreamFormat(stream_format))
    raw = encoder.opening(START) + encoder.section(1, 2, "started")
    raw += encoder.token('{"findings": [') + encoder.finding(0, FINDING)
    raw += encoder.section(1, 2, "finished")
    raw += encoder.result(RESULT, METADATA) if ending == "result" else encoder.error(ERROR)
    seen = []
    for name, data in events_of(raw):
        key, model = model_for(stream_format, name, data)
        seen.append(key)
        if model is not None:
            model.model_validate_json(data)
    assert seen[-1] == "[DONE]"
    assert ("error" in seen) == (ending == "error")
