"""The learned contract model (corpus `cuad`) over a contract's sentences.

A sentence is read as a kind only when it, or the sentence just before it in the same clause,
contains that kind's gate words (`GATES`, the same gates the model was trained behind) and the
model's score clears the kind's threshold. Neighbouring sentences of one clause flagged with the
same kind make one finding, quoted from the first to the last of them, so a reviewer sees the
clause once; once a clause has a finding of a kind, its other sentences read as that kind join it
a little below the threshold (`EXTEND_MARGIN`). A few kinds also read hashed character n-grams
(`ContractChars`, the artifact `models/cuad.chars`), on the sentences their gates open.
"""

import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.analyzer.categories import category_of
from app.analyzer.clauses import Clause, Span
from app.analyzer.contract_kinds import GATES, KINDS, states_a_cap
from app.analyzer.learned import MODELS_DIR, SentenceModel, extended, read_model
from app.analyzer.normalise import squash
from app.analyzer.rules import Verdict
from app.analyzer.tos_model import CharPart

CORPUS = "cuad"
OUTRANKED_BY = {"liability_cap": "uncapped_liability"}
"""A clause that leaves liability uncapped is reported as that, not also as a limitation."""
_MIN_WORDS = 5
EXTEND_MARGIN = 3.0
"""A sentence of a clause that already has a finding of a kind joins that finding when its score
is at most this far below the kind's threshold (CUAD often labels a clause's follow-on
sentences too: "If Seller elects to exercise its rights under the preceding paragraph, ...")."""
_LEAVES_UNCAPPED = re.compile(
    r"\bnot apply|\bnot (?:be )?limit(?!ed to)|\bunlimited|\buncapped|\bwithout limit(?!ation)"
    r"|\bexcept|\bexclu(?!sive)|\bnotwithstanding|\bother than|\bno limit|\bnothing (?:in|limits)"
)
"""A clause read as uncapped liability must say what a limit leaves out, or that there is none:
"shall not exceed the fees paid" alone is a cap, and "in no event liable for consequential
damages" alone an exclusion, not uncapped liability ("not limited to", "without limitation" and
"exclusive" say nothing of the kind)."""
RETIRED_ON_CONTRACTS = frozenset(
    {
        "commercial_non_compete",
        "exclusivity_non_compete",
        "unrestricted_audit",
        "ip_assignment_all",
        "liquidated_damages",
    }
)
"""Hand rules that, on real contracts, land on a clause of their kind less than 40 % of the time
(CUAD, 150 contracts): on `contract` documents the model reports these kinds alone. The rules
still serve the other document types, and contracts read without this model. (The uncapped
liability rule, 4 findings on CUAD, stays: it reads "shall in no event be limited" right.)"""


CHARS_FORMAT = "contract-chargrams-1"


def chars_path(directory: Path = MODELS_DIR) -> Path:
    # Not *.json: the shared loader reads every *.json as a word model.
    return directory / f"{CORPUS}.chars"


@dataclass(frozen=True, slots=True)
class ContractChars:
    """Hashed character n-grams (`app.analyzer.chargrams`) for a few kinds only: the kinds whose
    wording varies most, where they read better than word grams alone."""

    kinds: tuple[str, ...]
    part: CharPart
    """Its weight columns are `kinds`, in that order."""

    def to_json(self) -> str:
        head = {"format": CHARS_FORMAT, "kinds": list(self.kinds)}
        return json.dumps(head) + "\n" + self.part.to_json()

    @classmethod
    def from_json(cls, text: str) -> "ContractChars":
        head_line, _, rest = text.partition("\n")
        head = json.loads(head_line)
        if head.get("format") != CHARS_FORMAT:
            raise ValueError(f"unknown contract character-model format {head.get('format')!r}")
        part = CharPart.from_json(rest)
        if part.weights.shape[1] != len(head["kinds"]):
            raise ValueError("the contract character model's columns are not its kinds")
        return cls(tuple(head["kinds"]), part)


@dataclass(frozen=True, slots=True)
class ContractModel(SentenceModel):
    """The word model, plus the character part of the kinds that have one."""

    chars: ContractChars | None = None


def read(directory: Path = MODELS_DIR) -> ContractModel:
    # The thresholds in the word model were chosen with the character part: both or neither.
    chars = ContractChars.from_json(chars_path(directory).read_text(encoding="utf-8"))
    return with_chars(read_model(CORPUS, directory), chars)


def with_chars(words: SentenceModel, chars: ContractChars | None) -> ContractModel:
    return extended(words, ContractModel, chars=chars)


@cache
def load(corpus: str = CORPUS) -> ContractModel:
    """Read once per process, on first use (never at import)."""
    if corpus != CORPUS:
        raise ValueError(f"the contract model is {CORPUS!r}, not {corpus!r}")
    return read()


def candidate_scores(
    model: SentenceModel, found: Sequence["Candidate"], contexts: Sequence[str]
) -> npt.NDArray[np.float64]:
    """(candidates, categories) decision values: the word model's, plus the character part's
    for its kinds, computed only on the sentences those kinds' gates open."""
    scores = model.scores([c.text for c in found], folded=True, contexts=contexts)
    chars = model.chars if isinstance(model, ContractModel) else None
    if chars is None or not found:
        return scores
    wanted = set(chars.kinds)
    rows = [i for i, candidate in enumerate(found) if wanted.intersection(candidate.kinds)]
    if rows:
        columns = [model.categories.index(kind) for kind in chars.kinds]
        extra = chars.part.scores([found[i].text for i in rows])
        scores[np.ix_(rows, columns)] += extra
    return scores


def gives_way(rule_id: str, model: SentenceModel) -> bool:
    """This rule is retired on contracts because the model reports its kind."""
    return rule_id in RETIRED_ON_CONTRACTS and category_of(rule_id) in model.categories


@dataclass(frozen=True, slots=True)
class KindFinding:
    slug: str
    verdict: Verdict
    span: Span


@cache
def _gates() -> dict[str, re.Pattern[str]]:
    return {slug: re.compile(pattern) for slug, pattern in GATES.items()}


def sentence_contexts(clauses: Sequence[Clause]) -> list[Span | None]:
    """Per sentence (in document order), the sentence the model reads as its context: the one
    before it (often the clause heading, or the lead-in of a list). The first sentence of each
    clause instead was tried: no better (R 0.647 / P 0.638 against 0.651 / 0.659)."""
    out: list[Span | None] = []
    before: Span | None = None
    for clause in clauses:
        for span in clause.sentences:
            out.append(before)
            before = span
    return out


def open_to_next(kinds: Sequence[Iterable[str]], clause_of: Sequence[int]) -> list[tuple[str, ...]]:
    """Per sentence, the kinds its own gates open, then those the sentence just before it in the
    same clause opens: a clause's follow-on sentence ("The other party may then terminate ...")
    is read for the kind its lead sentence names, with that sentence as its context."""
    out: list[tuple[str, ...]] = []
    previous: tuple[str, ...] = ()
    for which, own in enumerate(kinds):
        mine = tuple(own)
        if which and clause_of[which - 1] == clause_of[which]:
            mine += tuple(kind for kind in previous if kind not in mine)
        out.append(mine)
        previous = tuple(own)
    return out


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence some kind's gate opens: its clause's number, span, folded text and kinds."""

    clause: int
    span: Span
    text: str
    kinds: tuple[str, ...]


def candidates(
    content: str, folded: str, clauses: Sequence[Clause]
) -> tuple[list[Candidate], list[str]]:
    """The sentences the model reads, with (per sentence) the folded sentence before it."""
    spans = [(number, span) for number, clause in enumerate(clauses) for span in clause.sentences]
    starts = [span.start for _, span in spans]
    context_spans = sentence_contexts(clauses)
    opened: dict[int, list[str]] = {}
    for slug, gate in _gates().items():
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
    kinds = open_to_next(
        [opened.get(which, ()) for which in range(len(spans))], [number for number, _ in spans]
    )
    found: list[Candidate] = []
    contexts: list[str] = []
    for which, (number, span) in enumerate(spans):
        if not kinds[which] or content.count(" ", span.start, span.end) + 1 < _MIN_WORDS:
            continue
        text = squash(folded[span.start : span.end])
        found.append(Candidate(number, span, text, kinds[which]))
        before = context_spans[which]
        contexts.append(folded[before.start : before.end] if before else "")
    return found, contexts


def select(
    found: Sequence[Candidate],
    scores: npt.NDArray[np.float64],
    columns: Mapping[str, int],
    thresholds: npt.NDArray[np.float64],
) -> list[tuple[str, Span, str]]:
    """The candidates whose score for a kind reaches its threshold, merged per clause:
    (kind, span, text), not yet graded."""
    opened = {
        (slug, candidate.clause)
        for candidate, row in zip(found, scores, strict=True)
        for slug in candidate.kinds
        if (column := columns.get(slug)) is not None and row[column] >= thresholds[column]
    }
    merged: dict[tuple[str, int], tuple[Span, list[str]]] = {}
    for candidate, row in zip(found, scores, strict=True):
        for slug in candidate.kinds:
            column = columns.get(slug)
            if column is None or (slug, candidate.clause) not in opened:
                continue
            if row[column] < thresholds[column] - EXTEND_MARGIN:
                continue
            key = (slug, candidate.clause)
            current = merged.get(key)
            if current is None:
                merged[key] = (candidate.span, [candidate.text])
            else:
                merged[key] = (
                    Span(current[0].start, candidate.span.end),
                    [*current[1], candidate.text],
                )
    texts_of = {key: (span, " ".join(texts)) for key, (span, texts) in merged.items()}
    # The findings that leave liability uncapped and are kept, known before any cap gives way to
    # them: an uncapped reading dropped for saying nothing a limit leaves out outranks nothing.
    uncapped = [
        span
        for (slug, _), (span, text) in texts_of.items()
        if slug in OUTRANKED_BY.values() and _LEAVES_UNCAPPED.search(text)
    ]
    kept: list[tuple[str, Span, str]] = []
    for (slug, _), (span, text) in texts_of.items():
        if slug in OUTRANKED_BY.values() and not _LEAVES_UNCAPPED.search(text):
            continue
        if (
            slug in OUTRANKED_BY
            and any(_overlap(span, other) for other in uncapped)
            and not states_a_cap(text)
        ):
            continue
        kept.append((slug, span, text))
    return kept


def columns_of(model: SentenceModel) -> dict[str, int]:
    return {slug: model.categories.index(slug) for slug in KINDS if slug in model.categories}


def contract_findings(
    content: str,
    folded: str,
    clauses: Sequence[Clause],
    model: SentenceModel | None = None,
) -> list[KindFinding]:
    model = model or load(CORPUS)
    found, contexts = candidates(content, folded, clauses)
    if not found:
        return []
    scores = candidate_scores(model, found, contexts)
    chosen = select(found, scores, columns_of(model), model.thresholds)
    return [KindFinding(slug, KINDS[slug].grade(text), span) for slug, span, text in chosen]


def shadowed(slug: str, span: Span, taken: Iterable[tuple[str, int, int]], content: str) -> bool:
    """A rule already quotes this clause under the finding's category (or the one outranking it).

    `taken`: (category slug, start, end) of the rules' findings."""
    start, end = span.start, span.end
    outranked = OUTRANKED_BY.get(slug)
    if outranked and states_a_cap(content[start:end].lower()):
        outranked = None
    return any(c in (slug, outranked) and s < end and start < e for c, s, e in taken)


def _overlap(one: Span, other: Span) -> bool:
    return one.start < other.end and other.start < one.end
