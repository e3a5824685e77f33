"""Long documents on the model path: sections analysed concurrently, streamed as one analysis.

A model behind an OpenAI-compatible endpoint may take 8–32k tokens, and one long request puts
the first finding behind the whole prompt. Past `LLM_SECTION_CHARS` the document is cut at
natural boundaries (a heading or numbered clause, a blank line, a line or sentence end; inside a
sentence only when one sentence alone is longer than a section), each section is analysed with
the same prompt through the same `astream` path, at most `LLM_SECTION_CONCURRENCY` at a time,
and the findings go out as soon as any section closes one.

What the client sees is one analysis: the findings (duplicates across sections dropped), one
summary from a short last model call over them, and for `format=tokens` a text that parses as
one `AnalyseResponse` (the sections' raw tokens interleave, so they are not relayed; the
findings are, as JSON, as they arrive).
"""

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal

from app.analyses.run import AnalysisRun, Completed, Event, Failed, FindingReady, Token, aclose
from app.llm import ChatModel
from app.models import utcnow
from app.prompt import build_messages
from app.schemas import AnalysisDraft, Finding, RiskLevel

logger = logging.getLogger("app.analyses")

# Cut points, best first: the start of a heading or numbered clause, a blank line, a line end
# after a sentence, a sentence end. Each match's end is where the next section starts.
_BOUNDARIES = (
    re.compile(
        r"\n[ \t]*(?=(?:\d+(?:\.\d+)*[.)]?[ \t]|[IVXLC]+\.[ \t]|[A-Z][A-Z0-9 ,&'\-]{3,}\n"
        r"|#{1,6} |(?:ARTICLE|Article|SECTION|Section|SCHEDULE|Schedule)\b))"
    ),
    re.compile(r"\n[ \t]*\n\s*"),
    re.compile(r"[.!?;:][\"')\]]*[ \t]*\n\s*"),
    re.compile(r"[.!?][\"')\]]*\s+"),
)
_WHITESPACE = re.compile(r"\s+")


def split_sections(text: str, limit: int) -> list[tuple[int, int]]:
    """Spans of at most `limit` characters that cover `text`, cut at the best boundary.

    The cut is searched in the second half of each window, so sections stay near the limit.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > limit:
        end = start + limit
        cut = _best_cut(text, start + limit // 2, end) or _best_cut(text, start + 1, end)
        if cut is None:
            # One sentence longer than a section: cut between words, or anywhere.
            words = [m.end() for m in _WHITESPACE.finditer(text, start + 1, end)]
            cut = words[-1] if words else end
        spans.append((start, cut))
        start = cut
    spans.append((start, len(text)))
    return spans


def _best_cut(text: str, low: int, high: int) -> int | None:
    for boundary in _BOUNDARIES:
        cut = None
        for match in boundary.finditer(text, low, high):
            cut = match.end()
        if cut is not None and cut > low:
            return cut
    return None


@dataclass(frozen=True, slots=True)
class SectionProgress:
    """Section `index` (from 1) of `total` has started or finished."""

    index: int
    total: int
    state: Literal["started", "finished"]


RunEvent = Event | SectionProgress

_SUMMARY_PROMPT = """\
You are a regulatory-compliance analyst. The findings below were made section by section in one \
{document_type} ({sections} sections). Write the summary of the whole document in two or three \
sentences: the overall risk, the most serious issues, what to negotiate first. Answer with the \
summary text only."""

_SEVERITY = {RiskLevel.HIGH: 0, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 2}


def merged_summary(findings: Sequence[Finding], drafts: Sequence[AnalysisDraft]) -> str:
    """The deterministic summary, when the summary call fails: counts and the sections' words."""
    counts = {risk: sum(f.risk is risk for f in findings) for risk in RiskLevel}
    parts = [
        f"{counts[risk]} {risk.value}"
        for risk in sorted(RiskLevel, key=lambda risk: _SEVERITY[risk])
    ]
    head = f"{len(findings)} findings across {len(drafts)} sections ({', '.join(parts)})."
    firsts = [d.summary.split(". ")[0].rstrip(".") + "." for d in drafts if d.summary.strip()]
    return " ".join([head, *firsts[:3]])


def _total(values: list[int | None], extra: int) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) + extra if known or extra else None


class SectionedRun:
    """The sections of one document as one run: the same events and totals as `AnalysisRun`."""

    def __init__(
        self,
        chat: ChatModel,
        content: str,
        document_type: str,
        org: str,
        spans: list[tuple[int, int]],
        concurrency: int,
    ) -> None:
        self.chat = chat
        self.content = content
        self.document_type = document_type
        self.concurrency = concurrency
        self.runs = [
            AnalysisRun(chat, build_messages(content[start:end], document_type, org))
            for start, end in spans
        ]
        self.findings: list[Finding] = []
        self.first_token_at: float | None = None
        self.draft: AnalysisDraft | None = None
        self._summary_usage = (0, 0)

    @property
    def tokens(self) -> int:
        return sum(run.tokens for run in self.runs)

    @property
    def prompt_tokens(self) -> int | None:
        return _total([run.prompt_tokens for run in self.runs], self._summary_usage[0])

    @property
    def completion_tokens(self) -> int | None:
        return _total([run.completion_tokens for run in self.runs], self._summary_usage[1])

    async def events(self) -> AsyncIterator[RunEvent]:
        """Yield events; always ends with exactly one Completed or Failed.

        The first event is the first model token, as with one section, so the first-token
        timeout and the HTTP status before it mean the same thing.
        """
        total = len(self.runs)
        queue: asyncio.Queue[tuple[int, RunEvent]] = asyncio.Queue(maxsize=256)
        slots = asyncio.Semaphore(self.concurrency)

        async def analyse(index: int, run: AnalysisRun) -> None:
            async with slots:
                await queue.put((index, SectionProgress(index + 1, total, "started")))
                events = run.events()
                try:
                    async for event in events:
                        await queue.put((index, event))
                finally:
                    await aclose(events)

        tasks = [asyncio.create_task(analyse(i, run)) for i, run in enumerate(self.runs)]
        try:
            drafts: dict[int, AnalysisDraft] = {}
            waiting: list[SectionProgress] = []
            seen: set[str] = set()
            while len(drafts) < total:
                index, event = await queue.get()
                if isinstance(event, SectionProgress):
                    if self.first_token_at is None:
                        waiting.append(event)
                    else:
                        yield event
                elif isinstance(event, Token):
                    if self.first_token_at is None:
                        self.first_token_at = time.monotonic()
                        yield Token('{"findings": [')
                        for progress in waiting:
                            yield progress
                elif isinstance(event, FindingReady):
                    key = _WHITESPACE.sub(" ", event.finding.clause).strip().casefold()
                    if key in seen:
                        continue
                    seen.add(key)
                    separator = ", " if self.findings else ""
                    self.findings.append(event.finding)
                    yield Token(separator + event.finding.model_dump_json())
                    yield FindingReady(len(self.findings) - 1, event.finding)
                elif isinstance(event, Completed):
                    drafts[index] = event.draft
                    yield SectionProgress(index + 1, total, "finished")
                else:
                    assert isinstance(event, Failed)
                    yield event
                    return
            ordered = sorted(self.findings, key=self._position)
            summary = await self._summary(ordered, [drafts[i] for i in range(total)])
            self.findings = ordered
            self.draft = AnalysisDraft(findings=ordered, summary=summary)
            closing = {"summary": summary, "processed_at": utcnow().isoformat()}
            yield Token("], " + json.dumps(closing)[1:])
            yield Completed(self.draft)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _position(self, finding: Finding) -> int:
        found = self.content.find(finding.clause)
        return found if found >= 0 else len(self.content)

    async def _summary(self, findings: list[Finding], drafts: list[AnalysisDraft]) -> str:
        """One short model call over the findings; the deterministic merge if it fails."""
        system = _SUMMARY_PROMPT.format(document_type=self.document_type, sections=len(drafts))
        listing = json.dumps(
            {
                "findings": [f.model_dump(mode="json") for f in findings],
                "section_summaries": [d.summary for d in drafts],
            },
            ensure_ascii=False,
        )
        text = ""
        usage = [0, 0]
        try:
            stream = self.chat.model.astream([("system", system), ("human", listing)])
            try:
                async for chunk in stream:
                    if chunk.usage_metadata:
                        usage[0] += chunk.usage_metadata["input_tokens"]
                        usage[1] += chunk.usage_metadata["output_tokens"]
                    if isinstance(chunk.content, str):
                        text += chunk.content
            finally:
                await aclose(stream)
        except Exception as exc:
            logger.warning("the summary call failed (%s): merged summary", type(exc).__name__)
            text = ""
        self._summary_usage = (usage[0], usage[1])
        return text.strip() or merged_summary(findings, drafts)
