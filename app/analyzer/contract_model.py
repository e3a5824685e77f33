"""The learned contract model (corpus `cuad`) over a contract's sentences.

A sentence is read as a kind only when it contains that kind's gate words (`GATES`, the same
gates the model was trained behind) and the model's score clears the kind's threshold.
Neighbouring sentences of one clause flagged with the same kind make one finding, quoted from the
first to the last of them, so a reviewer sees the clause once.
"""

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from app.analyzer.clauses import Clause, Span
from app.analyzer.contract_kinds import GATES, KINDS, states_a_cap
from app.analyzer.learned import SentenceModel, load
from app.analyzer.normalise import squash
from app.analyzer.rules import Verdict

CORPUS = "cuad"
OUTRANKED_BY = {"liability_cap": "uncapped_liability"}
"""A clause that leaves liability uncapped is reported as that, not also as a limitation."""
_MIN_WORDS = 5


@dataclass(frozen=True, slots=True)
class KindFinding:
    slug: str
    verdict: Verdict
    span: Span


@cache
def _gates() -> dict[str, re.Pattern[str]]:
    return {slug: re.compile(pattern) for slug, pattern in GATES.items()}


def contract_findings(
    content: str,
    folded: str,
    clauses: Sequence[Clause],
    model: SentenceModel | None = None,
) -> list[KindFinding]:
    model = model or load(CORPUS)
    columns = {slug: model.categories.index(slug) for slug in KINDS if slug in model.categories}
    spans = [(number, span) for number, clause in enumerate(clauses) for span in clause.sentences]
    starts = [span.start for _, span in spans]
    opened: dict[int, list[str]] = {}
    for slug, gate in _gates().items():
        if slug not in columns:
            continue
        # One scan of the whole text per gate, jumping to the next sentence after each match.
        match = gate.search(folded)
        while match:
            which = bisect_right(starts, match.start()) - 1
            end = spans[which][1].end if which >= 0 else match.end()
            if which >= 0 and match.end() <= end:
                opened.setdefault(which, []).append(slug)
                match = gate.search(folded, end)
            else:
                match = gate.search(folded, match.start() + 1)
    candidates: list[tuple[int, Span, str, list[str]]] = []
    contexts: list[str] = []
    for which in sorted(opened):
        number, span = spans[which]
        if content.count(" ", span.start, span.end) + 1 < _MIN_WORDS:
            continue
        text = squash(folded[span.start : span.end])
        candidates.append((number, span, text, opened[which]))
        before = spans[which - 1][1] if which > 0 else None
        contexts.append(folded[before.start : before.end] if before else "")
    if not candidates:
        return []
    scores = model.scores([text for _, _, text, _ in candidates], folded=True, contexts=contexts)
    merged: dict[tuple[str, int], tuple[Span, list[str]]] = {}
    for (number, span, text, kinds), row in zip(candidates, scores, strict=True):
        for slug in kinds:
            column = columns[slug]
            if row[column] < model.thresholds[column]:
                continue
            key = (slug, number)
            current = merged.get(key)
            if current is None:
                merged[key] = (span, [text])
            else:
                merged[key] = (Span(current[0].start, span.end), [*current[1], text])
    found = []
    uncapped = [span for (slug, _), (span, _) in merged.items() if slug in OUTRANKED_BY.values()]
    for (slug, _), (span, texts) in merged.items():
        if (
            slug in OUTRANKED_BY
            and any(_overlap(span, other) for other in uncapped)
            and not states_a_cap(" ".join(texts))
        ):
            continue
        verdict = KINDS[slug].grade(" ".join(texts))
        found.append(KindFinding(slug, verdict, span))
    return found


def _overlap(one: Span, other: Span) -> bool:
    return one.start < other.end and other.start < one.end
