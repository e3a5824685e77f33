"""One analysis run: the model's token stream turned into tokens, findings and a validated result."""

import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic import ValidationError

from app import telemetry
from app.analyses.scanner import FindingScanner
from app.errors import Failure
from app.llm import ChatModel, classify_failure, failure_cause
from app.prompt import Prompt
from app.schemas import AnalysisDraft, Finding

logger = logging.getLogger("app.llm")


@dataclass(frozen=True, slots=True)
class Token:
    text: str


@dataclass(frozen=True, slots=True)
class FindingReady:
    index: int
    finding: Finding


@dataclass(frozen=True, slots=True)
class Completed:
    draft: AnalysisDraft


@dataclass(frozen=True, slots=True)
class Failed:
    failure: Failure


Event = Token | FindingReady | Completed | Failed

_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


def parse_draft(text: str) -> AnalysisDraft:
    """Validate the model's whole answer; tolerate a Markdown fence around the JSON."""
    return AnalysisDraft.model_validate_json(_FENCE.sub("", text))


@dataclass(slots=True)
class AnalysisRun:
    chat: ChatModel
    messages: Prompt
    findings: list[Finding] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    first_token_at: float | None = None
    draft: AnalysisDraft | None = None
    tokens: int = 0

    async def events(self) -> AsyncIterator[Event]:
        """Yield events; always ends with exactly one Completed or Failed."""
        scanner = FindingScanner()
        span = telemetry.start_span(f"chat {self.chat.name}", telemetry.chat_attributes(self.chat))
        started = time.monotonic()
        finish_reason = None
        stream = self.chat.model.astream(self.messages, **self.chat.answer_options)
        try:
            async for chunk in stream:
                usage = chunk.usage_metadata
                if usage:
                    self.prompt_tokens = (self.prompt_tokens or 0) + usage["input_tokens"]
                    self.completion_tokens = (self.completion_tokens or 0) + usage["output_tokens"]
                text = chunk.content
                if not text or not isinstance(text, str):
                    finish_reason = chunk.response_metadata.get("finish_reason") or finish_reason
                    continue
                if self.first_token_at is None:
                    self.first_token_at = time.monotonic()
                    span.set_attribute(telemetry.TIME_TO_FIRST_CHUNK, self.first_token_at - started)
                self.tokens += 1
                yield Token(text)
                for raw in scanner.feed(text):
                    try:
                        finding = Finding.model_validate_json(raw)
                    except ValidationError:
                        continue  # the final validation reports it
                    self.findings.append(finding)
                    yield FindingReady(len(self.findings) - 1, finding)
        except Exception as exc:
            failure = classify_failure(exc)
            logger.warning(
                "model request failed: code=%s upstream=%s cause=%s",
                failure.code,
                self.chat.upstream or self.chat.provider,
                failure_cause(exc),
            )
            telemetry.failed(span, failure.code)
            yield Failed(failure)
            return
        finally:
            await aclose(stream)
            telemetry.end_chat(span, self.prompt_tokens, self.completion_tokens, finish_reason)
        try:
            draft = parse_draft(scanner.text)
        except ValidationError as exc:
            count = exc.error_count()
            problems = f"{count} error" if count == 1 else f"{count} errors"
            message = f"the model's answer is not a valid analysis ({problems})"
            yield Failed(Failure("invalid_model_output", message, 502))
            return
        # A finding the scanner could not place (unusual formatting) still goes out before the end.
        for finding in draft.findings[len(self.findings) :]:
            self.findings.append(finding)
            yield FindingReady(len(self.findings) - 1, finding)
        self.findings = list(draft.findings)
        self.draft = draft
        yield Completed(draft)


async def aclose(iterator: AsyncIterator[object]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
