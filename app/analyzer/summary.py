"""The summary sentence: counts by risk level and the most serious issues."""

from collections import Counter
from collections.abc import Sequence

from app.analyzer.document_types import LABELS
from app.schemas import RiskLevel

SEVERITY = {RiskLevel.HIGH: 0, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 2}


def summarise(
    risks_and_titles: Sequence[tuple[RiskLevel, str]], document_type: str, clauses: int
) -> str:
    """`risks_and_titles` must already be ordered most serious first."""
    label = LABELS[document_type]
    if not risks_and_titles:
        return (
            f"No risky clauses were found: {clauses} clause{'s' * (clauses != 1)} of this "
            f"{label} were checked against the risk catalogue and none matched."
        )
    counts = Counter(risk for risk, _ in risks_and_titles)
    total = len(risks_and_titles)
    parts = ", ".join(f"{counts[risk]} {risk.value}" for risk in SEVERITY if counts[risk])
    worst = list(dict.fromkeys(title for _, title in risks_and_titles))[:3]
    advice = (
        "Address the high-risk clauses first."
        if counts[RiskLevel.HIGH]
        else "Review these clauses."
    )
    return (
        f"{total} finding{'s' * (total != 1)} in this {label}: {parts}. "
        f"Most serious: {', '.join(worst)}. {advice}"
    )
