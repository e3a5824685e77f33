"""Held-out figures on real commercial contracts (CUAD), cross-validated by contract.

Run: uv run python -m tests.eval_cuad [--folds 5]   (also part of `make eval`)

The 150 contracts are dealt into folds by name; for each fold the contract sentence model is
trained on the other folds' contracts only (thresholds included, by an inner split of those
contracts) and the whole offline analyzer (`document_type` contract: rules and model) then reads
each held-out contract end to end.

Scoring is by clause, as a reviewer would count: a finding of one of the fourteen risk kinds
"lands" on a labelled clause of that kind when their overlap covers at least half of the shorter
of the two. Precision is the share of the findings of those kinds that land on a clause labelled
with their kind (findings of other kinds, such as indemnity or payment terms, which CUAD does not
label, are not counted); recall is the share of labelled clauses that a finding of their kind
lands on. The keyword baseline flags every sentence matching one regular expression per kind.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from app.analyzer.categories import category_of
from app.analyzer.engine import find_hits
from app.analyzer.learned import SentenceModel
from scripts.cuad_corpus import Contract, lands_on_any, load_contracts
from scripts.train_analyzer import CORPORA, LabelledDocument, fit

CORPUS = CORPORA["cuad"]
KINDS = CORPUS.categories
MIN_CLAUSES_FOR_TARGET = 10

KEYWORDS: dict[str, re.Pattern[str]] = {
    kind: re.compile(pattern, re.IGNORECASE)
    for kind, pattern in {
        "anti_assignment": r"\bassign",
        "audit_rights": r"\baudit",
        "auto_renewal": r"\brenew",
        "change_of_control": r"\bchange (?:of|in) control",
        "covenant_not_to_sue": r"\b(?:challenge|contest)",
        "exclusivity": r"\bexclusiv",
        "ip_assignment": r"\b(?:assigns?|transfers?) (?:to|all)",
        "liability_cap": r"\bin no event",
        "liquidated_damages": r"\bliquidated damages",
        "most_favored_nation": r"\bfavou?r",
        "non_compete": r"\bcompet",
        "non_solicit": r"\bsolicit",
        "termination_for_convenience": r"\bterminat",
        "uncapped_liability": r"\bunlimited|\bshall not apply",
    }.items()
}


@dataclass(slots=True)
class Tally:
    landed: int = 0
    """Findings that land on a labelled clause of their kind."""
    findings: int = 0
    found: int = 0
    """Labelled clauses a finding of their kind lands on."""
    clauses: int = 0

    def add(self, other: Tally) -> None:
        self.landed += other.landed
        self.findings += other.findings
        self.found += other.found
        self.clauses += other.clauses

    @property
    def precision(self) -> float:
        return self.landed / self.findings if self.findings else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.clauses if self.clauses else 0.0


@dataclass(slots=True)
class Scores:
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in KINDS})

    def add(self, other: Scores) -> None:
        for name, tally in other.tallies.items():
            self.tallies[name].add(tally)

    @property
    def overall(self) -> Tally:
        total = Tally()
        for tally in self.tallies.values():
            total.add(tally)
        return total


Predictor = Callable[[Contract], list[tuple[str, int, int]]]
"""A contract -> (kind, start, end) of each finding of the fourteen kinds."""


def score_contract(contract: Contract, found: list[tuple[str, int, int]]) -> Scores:
    scores = Scores()
    for kind in KINDS:
        clauses = sorted((start, end) for label, start, end in contract.clauses if label == kind)
        quotes = sorted({(start, end) for label, start, end in found if label == kind})
        tally = scores.tallies[kind]
        tally.clauses = len(clauses)
        tally.findings = len(quotes)
        tally.landed = sum(lands_on_any(quote, clauses) for quote in quotes)
        tally.found = sum(lands_on_any(clause, quotes) for clause in clauses)
    return scores


def analyzer(models: dict[str, SentenceModel]) -> Predictor:
    def predict(contract: Contract) -> list[tuple[str, int, int]]:
        hits = find_hits(contract.text, "contract", models)
        return [(kind, h.start, h.end) for h in hits if (kind := category_of(h.category)) in KINDS]

    return predict


def keyword_baseline(document: LabelledDocument) -> list[tuple[str, int, int]]:
    return [
        (kind, s.start, s.end)
        for s in document.sentences
        for kind, pattern in KEYWORDS.items()
        if pattern.search(document.text[s.start : s.end])
    ]


@dataclass(slots=True)
class Evaluation:
    learned: Scores
    baseline: Scores
    per_fold: list[Scores]
    contracts: int


def evaluate(fold_count: int = 5) -> Evaluation:
    contracts = sorted(load_contracts(), key=lambda c: c.name)
    documents = {d.name: d for d in CORPUS.load()}
    learned, baseline, per_fold = Scores(), Scores(), []
    for fold in range(fold_count):
        held_out = contracts[fold::fold_count]
        names = {c.name for c in held_out}
        model = fit(CORPUS, [d for name, d in sorted(documents.items()) if name not in names])
        predict = analyzer({CORPUS.name: model})
        fold_scores = Scores()
        for contract in held_out:
            fold_scores.add(score_contract(contract, predict(contract)))
            baseline.add(score_contract(contract, keyword_baseline(documents[contract.name])))
        learned.add(fold_scores)
        per_fold.append(fold_scores)
    return Evaluation(learned, baseline, per_fold, len(contracts))


def format_evaluation(evaluation: Evaluation) -> str:
    header = (
        f"{'category':<30}{'clauses':>8}{'R':>6}{'findings':>9}{'P':>6}   {'kw R':>6}{'kw P':>6}"
    )
    rows = [
        f"Commercial contracts (CUAD): {evaluation.contracts} contracts, "
        f"{len(evaluation.per_fold)}-fold cross-validation by contract; every figure is held "
        "out (kw = keyword baseline). R: labelled clauses found; P: findings that land on a "
        "clause of their kind.",
        "",
        header,
        "-" * len(header),
    ]

    def row(name: str, tally: Tally, base: Tally) -> str:
        return (
            f"{name:<30}{tally.clauses:>8}{tally.recall:>6.2f}{tally.findings:>9}"
            f"{tally.precision:>6.2f}   {base.recall:>6.2f}{base.precision:>6.2f}"
        )

    for kind in KINDS:
        rows.append(row(kind, evaluation.learned.tallies[kind], evaluation.baseline.tallies[kind]))
    rows.append("-" * len(header))
    rows.append(row("overall", evaluation.learned.overall, evaluation.baseline.overall))
    rows.append("")
    rows.append(
        "per fold, overall: "
        + "  ".join(
            f"R {s.overall.recall:.2f} P {s.overall.precision:.2f}" for s in evaluation.per_fold
        )
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    arguments = parser.parse_args()
    print(format_evaluation(evaluate(arguments.folds)))


if __name__ == "__main__":
    main()
