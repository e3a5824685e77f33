"""Run the catalogue over a document: clause-level hits, document-level hits, the draft."""

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from app.analyzer.catalogue import document_rules_for, rules_for
from app.analyzer.categories import category_of
from app.analyzer.clauses import Clause, Span, split_clauses, trimmed
from app.analyzer.contract_kinds import KINDS
from app.analyzer.contract_model import CORPUS as CONTRACT_MODEL
from app.analyzer.contract_model import contract_findings, gives_way, shadowed
from app.analyzer.contract_model import load as load_contract_model
from app.analyzer.document_types import CONTRACT, GENERAL, normalise_document_type
from app.analyzer.learned import SentenceModel
from app.analyzer.learned_sets import LearnedSet, learned_set_for
from app.analyzer.normalise import fold, squash
from app.analyzer.rules import STRONG, DocumentRule, Rule, Verdict
from app.analyzer.summary import SEVERITY, summarise
from app.schemas import AnalysisDraft, Finding, RiskLevel

QUOTE_WHOLE_CLAUSE_CHARS = 400


@dataclass(frozen=True, slots=True)
class Hit:
    category: str
    title: str
    risk: RiskLevel
    confidence: float
    start: int
    end: int
    explanation: str


@dataclass(frozen=True, slots=True)
class _Sentence:
    clause: Clause
    span: Span


def _judge(rule: Rule, text: str, clause_text: Callable[[], str]) -> Verdict | None:
    """The most severe verdict among the rule's signals that survive blockers and softeners."""
    best: Verdict | None = None
    context: str | None = None
    for signal in rule.signals:
        if not signal.pattern.search(text):
            continue
        verdict = (
            signal.judge(text)
            if signal.judge
            else Verdict(signal.risk or rule.risk, signal.confidence)
        )
        if verdict is None:
            continue
        if context is None:
            context = clause_text() if rule.blocker_scope == "clause" else text
            if any(blocker.search(context) for blocker in rule.blockers):
                return None
        if signal.confidence < STRONG and any(s.search(context) for s in rule.softeners):
            continue
        if best is None or (SEVERITY[verdict.risk], -verdict.confidence) < (
            SEVERITY[best.risk],
            -best.confidence,
        ):
            best = verdict
    return best


def _candidates(
    folded: str, rules: tuple[Rule, ...], sentences: list[_Sentence]
) -> dict[int, set[int]]:
    """Sentence index -> indices of rules whose gate words occur in it (plain `find`, no regex)."""
    starts = [sentence.span.start for sentence in sentences]
    gate_rules: dict[str, list[int]] = {}
    for index, rule in enumerate(rules):
        for gate in rule.gates:
            gate_rules.setdefault(gate, []).append(index)
    found: dict[int, set[int]] = {}
    for gate, indices in gate_rules.items():
        position = folded.find(gate)
        while position >= 0:
            which = bisect_right(starts, position) - 1
            if which >= 0 and position + len(gate) <= sentences[which].span.end:
                found.setdefault(which, set()).update(indices)
                position = folded.find(gate, sentences[which].span.end)
            else:
                position = folded.find(gate, position + 1)
    return found


def _quote(sentence: _Sentence) -> Span:
    clause = sentence.clause
    if clause.end - clause.start <= QUOTE_WHOLE_CLAUSE_CHARS:
        return Span(clause.start, clause.end)
    return sentence.span


def _hit(category: str, title: str, explanation: str, verdict: Verdict, span: Span) -> Hit:
    text = f"{verdict.detail} {explanation}" if verdict.detail else explanation
    return Hit(category, title, verdict.risk, verdict.confidence, span.start, span.end, text)


def _clause_hits(folded: str, rules: tuple[Rule, ...], sentences: list[_Sentence]) -> Iterable[Hit]:
    for index, rule_indices in sorted(_candidates(folded, rules, sentences).items()):
        sentence = sentences[index]
        text = squash(folded[sentence.span.start : sentence.span.end])

        def clause_text(clause: Clause = sentence.clause) -> str:
            return squash(folded[clause.start : clause.end])

        for rule_index in sorted(rule_indices):
            rule = rules[rule_index]
            if rule.requires and not any(word in text for word in rule.requires):
                continue
            verdict = _judge(rule, text, clause_text)
            if verdict:
                yield _hit(rule.id, rule.title, rule.explanation, verdict, _quote(sentence))


def _document_hits(
    folded: str, rules: tuple[DocumentRule, ...], sentences: list[_Sentence]
) -> Iterable[Hit]:
    """Only a document that deals with personal data can be missing what such documents owe."""
    if not rules:
        return
    whole = squash(folded)
    for rule in rules:
        if rule.satisfied_by.search(whole):
            continue
        mentions = [
            s for s in sentences if rule.anchor.search(squash(folded[s.span.start : s.span.end]))
        ]
        if not mentions:
            continue
        anchor = next((s for s in mentions if _is_prose(folded, s.span)), mentions[0])
        verdict = Verdict(rule.risk, rule.confidence)
        yield _hit(rule.id, rule.title, rule.explanation, verdict, _quote(anchor))


def _is_prose(folded: str, span: Span) -> bool:
    """A full sentence rather than a heading: a better quote for a document-level finding."""
    return span.end - span.start >= 30 and folded[span.end - 1] in ".!?;:)\"'"


_PROSE_END = frozenset(".!?;:)\"'")


def _is_whole_sentence(content: str, span: Span) -> bool:
    """Worth quoting as a clause: a real sentence, not a heading or a table-of-contents line."""
    words = content.count(" ", span.start, span.end) + 1
    return words >= 12 or (words >= 5 and content[span.end - 1] in _PROSE_END)


_NUMBERING = re.compile(
    r"(?:\d{1,3}(?:\.\d{1,3})+\.?|\d{1,3}[.)]|\(\d{1,3}\)|\(?(?:[a-z]|[ivx]{1,5})\))[ \t]+", re.I
)
"""A leading section or list number: "7.4.2.", "7.4", "3.", "2)", "(4)", "(b)", "iv)". A plain
figure ("30 days after …") is text, not a number."""
_RUN_ON = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])|(?<=[a-z]{2}[.!?])[ \t]+(?=[a-z]+[A-Z])")
"""A sentence end the shared splitter keeps whole: no space after the full stop ("Terms.These"),
or a next sentence opening with a brand written in mixed case ("… fault. mySugr accepts …")."""


def _pieces(content: str, start: int, end: int) -> list[Span]:
    """One line cut at its run-on sentence ends, each piece without its surrounding spaces."""
    found = []
    for match in _RUN_ON.finditer(content, start, end):
        if (piece := trimmed(content, start, match.start())) is not None:
            found.append(piece)
        start = match.end()
    if (piece := trimmed(content, start, end)) is not None:
        found.append(piece)
    return found


_LINE_END = re.compile(r"[.:!?][\"'”’)\]]*$")
"""A line that ends a sentence or a list's lead-in ("… as follows:")."""
_BULLET = frozenset("-*•·–")


WRAP_WIDTH = 132
"""A document none of whose lines is longer (bar 1 in 100) is hard-wrapped plain text."""


def is_hard_wrapped(content: str) -> bool:
    """Its paragraphs are broken into lines of a fixed width: a line break inside a sentence is
    then no boundary. The labelled Terms of Service keep each paragraph on one line."""
    lengths = [len(line) for line in content.splitlines() if line.strip()]
    return len(lengths) >= 20 and sum(n > WRAP_WIDTH for n in lengths) * 100 < len(lengths)


def _line_units(content: str, span: Span, wrapped: bool) -> list[Span]:
    """A sentence's lines. In a hard-wrapped document a line that stops mid-sentence (no full
    stop or colon at its end) and a next line that opens no list item are one line."""
    units: list[Span] = []
    start = span.start
    open_unit: Span | None = None
    for line in content[span.start : span.end].split("\n"):
        stripped = line.strip()
        if stripped:
            begin = start + len(line) - len(line.lstrip())
            end = start + len(line.rstrip())
            continues = (
                wrapped
                and open_unit is not None
                and not _LINE_END.search(content, open_unit.start, open_unit.end)
                and stripped[0] not in _BULLET
                and not _NUMBERING.match(stripped)
            )
            if continues and open_unit is not None:
                open_unit = Span(open_unit.start, end)
            else:
                if open_unit is not None:
                    units.append(open_unit)
                open_unit = Span(begin, end)
        start += len(line) + 1
    if open_unit is not None:
        units.append(open_unit)
    return units


def _lines(content: str, span: Span, wrapped: bool = False) -> list[Span]:
    """A sentence's lines, each without its leading section number: the learned model reads a
    list item or a numbered clause on its own, as its annotators did, and its quote then holds
    only the text that carries the risk. A line is cut again at its run-on sentence ends."""
    found = []
    for unit in _line_units(content, span, wrapped):
        begin = unit.start
        number = _NUMBERING.match(content, begin, unit.end)
        if number and number.end() < unit.end:
            begin = number.end()
        found.extend(_pieces(content, begin, unit.end))
    return found


_HEADING_SMALL_WORDS = frozenset(
    ("a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with")
)
_HEADING_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_LOWER = re.compile(r"[a-z]")
_CAPS_CLAUSE = re.compile(
    r"\b(?:WE|YOU|I|MAY|WILL|SHALL|MUST|CAN|IS|ARE|AGREE)\b|^(?:AND|OR|BUT)\b|^\("
)


def _is_heading(text: str) -> bool:
    """A short title ("RIGHT TO MODIFY THE SERVICE.", "Changes to These Terms."): every word
    capitalised, or all capitals with no subject or verb of a clause."""
    if text.count(" ") + 1 >= 12:
        return False
    words = [w for w in _HEADING_WORD.findall(text) if w.lower() not in _HEADING_SMALL_WORDS]
    if not words:
        return False
    if not _LOWER.search(text):
        return not _CAPS_CLAUSE.search(text)
    return all(word[0].isupper() for word in words)


def _learned_hits(
    content: str,
    folded: str,
    learned: LearnedSet,
    model: SentenceModel,
    sentences: list[_Sentence],
) -> Iterable[Hit]:
    wrapped = is_hard_wrapped(content)
    lines = [
        _Sentence(s.clause, line) for s in sentences for line in _lines(content, s.span, wrapped)
    ]
    eligible = [
        s
        for s in lines
        if _is_whole_sentence(content, s.span)
        and not _is_heading(content[s.span.start : s.span.end])
    ]
    texts = [folded[s.span.start : s.span.end] for s in eligible]
    for sentence, found in zip(eligible, model.predict(texts, folded=True), strict=True):
        plain: str | None = None
        for category, probability in found:
            advice = learned.advice.get(category)
            if advice is None:
                continue
            if learned.fair is not None:
                if plain is None:
                    plain = " ".join(content[sentence.span.start : sentence.span.end].split())
                if learned.fair(category, plain):
                    continue
            confidence = min(0.95, max(0.5, probability))
            span = sentence.span
            yield Hit(
                category,
                advice.title,
                advice.risk,
                confidence,
                span.start,
                span.end,
                advice.explanation,
            )


def _kept_on_learned_type(hit: Hit, content: str, folded: str, learned: LearnedSet) -> bool:
    """On a type with a learned set, a rule's finding must quote a sentence and pass its blockers."""
    if not _is_whole_sentence(content, Span(hit.start, hit.end)):
        return False
    blocker = learned.rule_blockers.get(category_of(hit.category))
    return blocker is None or not blocker.search(squash(folded[hit.start : hit.end]))


def _resolve_overlaps(hits: list[Hit], folded: str) -> list[Hit]:
    """With the general catalogue a non-compete matches both the commercial and employment rules."""
    employment = {(h.start, h.end) for h in hits if h.category == "broad_non_compete"}
    commercial = {(h.start, h.end) for h in hits if h.category == "commercial_non_compete"}
    both = employment & commercial
    if not both:
        return hits
    kept: list[Hit] = []
    for hit in hits:
        span = (hit.start, hit.end)
        if span in both:
            is_employment = "employ" in folded[hit.start : hit.end]
            if hit.category == ("commercial_non_compete" if is_employment else "broad_non_compete"):
                continue
        kept.append(hit)
    return kept


def _contract_kind_hits(
    hits: list[Hit],
    content: str,
    folded: str,
    clauses: list[Clause],
    model: SentenceModel | None,
) -> Iterable[Hit]:
    """The contract model's kinds, except where a rule already quotes it under that category."""
    taken = [(category_of(hit.category), hit.start, hit.end) for hit in hits]
    for found in contract_findings(content, folded, clauses, model):
        if shadowed(found.slug, found.span, taken, content):
            continue
        kind = KINDS[found.slug]
        yield _hit(found.slug, kind.title, kind.explanation, found.verdict, found.span)


def _rank(hit: Hit) -> tuple[int, int, int, str]:
    return SEVERITY[hit.risk], hit.start, hit.end, hit.category


def find_hits(
    content: str, document_type: str, models: Mapping[str, SentenceModel] | None = None
) -> list[Hit]:
    """Every finding with category and offsets, most serious first, one per (category, quote).

    `models` replaces committed sentence models by corpus (the evaluation's held-out folds).
    """
    kind = normalise_document_type(document_type)
    return _find_hits(content, kind, split_clauses(content), models or {})


def _find_hits(
    content: str, kind: str, clauses: list[Clause], models: Mapping[str, SentenceModel]
) -> list[Hit]:
    folded = fold(content)
    sentences = [_Sentence(clause, span) for clause in clauses for span in clause.sentences]
    rules, document_rules = rules_for(kind), document_rules_for(kind)
    learned = learned_set_for(kind)
    learned_hits: list[Hit] = []
    if learned is not None:
        owned = learned.advice.keys()
        rules = tuple(r for r in rules if category_of(r.id) not in owned)
        document_rules = tuple(r for r in document_rules if category_of(r.id) not in owned)
        model = models.get(learned.corpus) or learned.load(learned.corpus)
        learned_hits = list(_learned_hits(content, folded, learned, model, sentences))
    contract_model: SentenceModel | None = None
    if kind in (CONTRACT, GENERAL):
        contract_model = models.get(CONTRACT_MODEL) or load_contract_model(CONTRACT_MODEL)
    if kind == CONTRACT and contract_model is not None:
        rules = tuple(r for r in rules if not gives_way(r.id, contract_model))
    hits = [
        *_clause_hits(folded, rules, sentences),
        *_document_hits(folded, document_rules, sentences),
    ]
    if learned is not None:
        hits = [hit for hit in hits if _kept_on_learned_type(hit, content, folded, learned)]
        hits.extend(learned_hits)
    if kind in (CONTRACT, GENERAL):
        hits.extend(_contract_kind_hits(hits, content, folded, clauses, contract_model))
    best: dict[tuple[str, int, int], Hit] = {}
    for hit in hits:
        key = (hit.category, hit.start, hit.end)
        current = best.get(key)
        if current is None or (SEVERITY[hit.risk], -hit.confidence) < (
            SEVERITY[current.risk],
            -current.confidence,
        ):
            best[key] = hit
    unique = list(best.values())
    if kind == GENERAL:
        unique = _resolve_overlaps(unique, folded)
    return sorted(unique, key=_rank)


def analyse(content: str, document_type: str) -> AnalysisDraft:
    kind = normalise_document_type(document_type)
    clauses = split_clauses(content)
    hits = _find_hits(content, kind, clauses, {})
    findings = [
        Finding(
            clause=content[hit.start : hit.end],
            risk=hit.risk,
            category=category_of(hit.category),
            explanation=hit.explanation,
            confidence=round(hit.confidence, 2),
        )
        for hit in hits
    ]
    summary = summarise([(hit.risk, hit.title) for hit in hits], kind, len(clauses))
    return AnalysisDraft(findings=findings, summary=summary)
