"""Held-out figures on real Terms of Service (CLAUDETTE), cross-validated by document.

Run: uv run python -m tests.eval_claudette [--folds 5]   (also part of `make eval`)

The 30 documents are dealt into folds by name; for each fold the sentence model is trained on
the other folds' documents only (its threshold included, by an inner split of those documents) and
the whole offline analyzer (`document_type` terms_of_service) then reads each held-out document
end to end. Every finding's quote is mapped by its offsets onto the labelled sentences it
overlaps: a finding of a kind on a sentence labelled with that kind is a true positive, on any
other sentence a false positive; a labelled sentence no finding of its kind overlaps is a false
negative. "any unfair" asks only whether a sentence labelled unfair (any of the eight) got a
finding of any of the eight. The keyword baseline is one regular expression per kind.
"""

from __future__ import annotations

import argparse
import re
import statistics
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.analyzer.engine import find_hits
from app.analyzer.learned import SentenceModel
from scripts.train_analyzer import CORPORA, LabelledDocument
from scripts.train_tos import fit

CORPUS = CORPORA["claudette"]
KINDS = CORPUS.categories
ANY = "any unfair"

KEYWORDS: dict[str, re.Pattern[str]] = {
    kind: re.compile(pattern, re.IGNORECASE)
    for kind, pattern in {
        "limitation_of_liability": r"\bliab",
        "unilateral_termination": r"\b(?:terminat|suspend)",
        "unilateral_change": r"\b(?:change|modif|amend)",
        "content_removal": r"\b(?:remove|delete)",
        "contract_by_using": r"\bby (?:using|accessing)",
        "choice_of_law": r"\bgoverned by|\blaws? of\b",
        "jurisdiction": r"\bcourts?\b",
        "arbitration": r"\barbitra",
    }.items()
}


@dataclass(slots=True)
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Tally) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(slots=True)
class Scores:
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in (*KINDS, ANY)})
    micro: Tally = field(default_factory=Tally)

    def add(self, other: Scores) -> None:
        for name, tally in other.tallies.items():
            self.tallies[name].add(tally)
        self.micro.add(other.micro)


Predictor = Callable[[LabelledDocument], list[tuple[str, int, int]]]
"""A document -> (kind, start, end) of each finding of the eight kinds."""


def score_document(document: LabelledDocument, found: list[tuple[str, int, int]]) -> Scores:
    """Map each finding onto the labelled sentences its span overlaps."""
    starts = [s.start for s in document.sentences]
    predicted: list[set[str]] = [set() for _ in document.sentences]
    for kind, start, end in found:
        index = max(0, bisect_left(starts, start) - 1)
        while index < len(document.sentences) and document.sentences[index].start < end:
            sentence = document.sentences[index]
            if sentence.end > start:
                predicted[index].add(kind)
            index += 1
    scores = Scores()
    for sentence, kinds in zip(document.sentences, predicted, strict=True):
        gold = sentence.labels & set(KINDS)
        for kind in KINDS:
            tally = scores.tallies[kind]
            if kind in kinds and kind in gold:
                tally.tp += 1
            elif kind in kinds:
                tally.fp += 1
            elif kind in gold:
                tally.fn += 1
        any_tally = scores.tallies[ANY]
        if kinds and gold:
            any_tally.tp += 1
        elif kinds:
            any_tally.fp += 1
        elif gold:
            any_tally.fn += 1
    for kind in KINDS:
        scores.micro.add(scores.tallies[kind])
    return scores


def analyzer(models: dict[str, SentenceModel]) -> Predictor:
    def predict(document: LabelledDocument) -> list[tuple[str, int, int]]:
        hits = find_hits(document.text, "terms_of_service", models)
        return [(h.category, h.start, h.end) for h in hits if h.category in KINDS]

    return predict


def keyword_baseline(document: LabelledDocument) -> list[tuple[str, int, int]]:
    return [
        (kind, s.start, s.end)
        for s in document.sentences
        for kind, pattern in KEYWORDS.items()
        if pattern.search(document.text[s.start : s.end])
    ]


def folds(documents: Sequence[LabelledDocument], count: int) -> list[list[LabelledDocument]]:
    ordered = sorted(documents, key=lambda d: d.name)
    return [ordered[i::count] for i in range(count)]


@dataclass(slots=True)
class Evaluation:
    learned: Scores
    baseline: Scores
    per_fold: list[Scores]
    documents: int
    sentences: int


def evaluate(fold_count: int = 5) -> Evaluation:
    documents = CORPUS.load()
    learned, baseline, per_fold = Scores(), Scores(), []
    for held_out in folds(documents, fold_count):
        names = {d.name for d in held_out}
        model = fit([d for d in documents if d.name not in names])
        predict = analyzer({CORPUS.name: model})
        fold_scores = Scores()
        for document in held_out:
            fold_scores.add(score_document(document, predict(document)))
            baseline.add(score_document(document, keyword_baseline(document)))
        learned.add(fold_scores)
        per_fold.append(fold_scores)
    sentences = sum(len(d.sentences) for d in documents)
    return Evaluation(learned, baseline, per_fold, len(documents), sentences)


def format_evaluation(evaluation: Evaluation) -> str:
    header = (
        f"{'category':<26}{'P':>6}{'R':>6}{'F1':>6}{'tp':>6}{'fp':>5}{'fn':>5}"
        f"   {'kw P':>6}{'kw R':>6}{'kw F1':>6}"
    )
    rows = [
        f"Terms of Service (CLAUDETTE): {evaluation.documents} documents, "
        f"{evaluation.sentences} labelled sentences, {len(evaluation.per_fold)}-fold "
        "cross-validation by document; every figure is held out (kw = keyword baseline)",
        "",
        header,
        "-" * len(header),
    ]

    def row(name: str, tally: Tally, base: Tally) -> str:
        return (
            f"{name:<26}{tally.precision:>6.2f}{tally.recall:>6.2f}{tally.f1:>6.2f}"
            f"{tally.tp:>6}{tally.fp:>5}{tally.fn:>5}"
            f"   {base.precision:>6.2f}{base.recall:>6.2f}{base.f1:>6.2f}"
        )

    for kind in KINDS:
        rows.append(row(kind, evaluation.learned.tallies[kind], evaluation.baseline.tallies[kind]))
    rows.append("-" * len(header))
    rows.append(row("eight kinds (micro)", evaluation.learned.micro, evaluation.baseline.micro))
    rows.append(row(ANY, evaluation.learned.tallies[ANY], evaluation.baseline.tallies[ANY]))
    fold_f1 = [scores.micro.f1 for scores in evaluation.per_fold]
    fold_p = [scores.micro.precision for scores in evaluation.per_fold]
    fold_r = [scores.micro.recall for scores in evaluation.per_fold]
    rows.extend(
        [
            "",
            "per fold, eight kinds: "
            + "  ".join(
                f"P {p:.2f} R {r:.2f} F1 {f:.2f}"
                for p, r, f in zip(fold_p, fold_r, fold_f1, strict=True)
            ),
            f"fold F1 mean {statistics.mean(fold_f1):.2f}, stdev {statistics.stdev(fold_f1):.2f}",
        ]
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    arguments = parser.parse_args()
    print(format_evaluation(evaluate(arguments.folds)))


if __name__ == "__main__":
    main()
