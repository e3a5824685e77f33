"""Quality gate for the offline analyzer on the labelled evaluation set."""

from collections import Counter

from app.analyzer.catalogue import CATEGORIES
from tests.analyzer_eval import evaluate, format_report, load_cases

MIN_PRECISION = 0.85
MIN_RECALL = 0.80


def test_overall_precision_and_recall() -> None:
    report = evaluate()
    table = format_report(report, mistakes=True)
    assert report.overall.precision >= MIN_PRECISION, table
    assert report.overall.recall >= MIN_RECALL, table


def test_evaluation_set_covers_every_category() -> None:
    cases = load_cases()
    per_category = Counter(case.category for case in cases if case.category)
    assert len(cases) >= 120
    assert sum(per_category.values()) >= 80
    assert len(cases) - sum(per_category.values()) >= 40
    assert {
        category: per_category[category] for category in CATEGORIES if per_category[category] < 2
    } == {}
    assert set(per_category) <= set(CATEGORIES)
    assert all(case.risk in {"low", "medium", "high"} for case in cases if case.category)
