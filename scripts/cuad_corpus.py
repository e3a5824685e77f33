"""The CUAD contracts (data/cuad/) as labelled sentences for the contract sentence model.

Sentences are the analyzer's own (`app.analyzer.clauses.split_clauses`), so training sees
exactly the units the analyzer classifies. A sentence carries a kind when it and a clause the
CUAD lawyers labelled with that kind land on each other (see `lands`).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.analyzer.clauses import split_clauses
from app.analyzer.contract_kinds import GATES

ROOT = Path(__file__).resolve().parent.parent
CUAD_PATH = ROOT / "data" / "cuad" / "cuad_dev.json"

CUAD_KINDS: dict[str, str] = {
    "Uncapped Liability": "uncapped_liability",
    "Cap On Liability": "liability_cap",
    "Liquidated Damages": "liquidated_damages",
    "Non-Compete": "non_compete",
    "Exclusivity": "exclusivity",
    "No-Solicit Of Customers": "non_solicit",
    "No-Solicit Of Employees": "non_solicit",
    "Renewal Term": "auto_renewal",
    "Notice Period To Terminate Renewal": "auto_renewal",
    "Ip Ownership Assignment": "ip_assignment",
    "Audit Rights": "audit_rights",
    "Termination For Convenience": "termination_for_convenience",
    "Anti-Assignment": "anti_assignment",
    "Change Of Control": "change_of_control",
    "Most Favored Nation": "most_favored_nation",
    "Covenant Not To Sue": "covenant_not_to_sue",
}
CATEGORIES: tuple[str, ...] = tuple(sorted(set(CUAD_KINDS.values())))
__all__ = [
    "CATEGORIES",
    "CUAD_KINDS",
    "GATES",
    "Contract",
    "labelled_sentences",
    "lands",
    "load_contracts",
]


@dataclass(frozen=True, slots=True)
class Contract:
    name: str
    text: str
    clauses: tuple[tuple[str, int, int], ...]
    """(kind, start, end) of every labelled clause of the fourteen risk kinds."""


def lands(start: int, end: int, other_start: int, other_end: int) -> bool:
    """Two spans land on each other when they share at least half of the shorter one."""
    shared = min(end, other_end) - max(start, other_start)
    return shared > 0 and 2 * shared >= min(end - start, other_end - other_start)


def lands_on_any(span: tuple[int, int], others: Sequence[tuple[int, int]]) -> bool:
    """`others` sorted by start; spans are short, so look only at those starting near it."""
    first = bisect_left(others, (span[0] - 5000, 0))
    for other in others[first:]:
        if other[0] >= span[1]:
            break
        if lands(span[0], span[1], other[0], other[1]):
            return True
    return False


def load_contracts(path: Path = CUAD_PATH) -> list[Contract]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Contract(
            name=contract["name"],
            text=contract["text"],
            clauses=tuple(
                (CUAD_KINDS[label], start, end)
                for label, start, end in contract["spans"]
                if label in CUAD_KINDS
            ),
        )
        for contract in data["contracts"]
    ]


def labelled_sentences(contract: Contract) -> list[tuple[int, int, frozenset[str]]]:
    """Every analyzer sentence of the contract with the kinds of the clauses it lands on."""
    clauses = sorted(contract.clauses, key=lambda clause: clause[1])
    sentences = []
    for clause in split_clauses(contract.text):
        for span in clause.sentences:
            kinds = frozenset(
                kind
                for kind, start, end in clauses
                if start < span.end and end > span.start and lands(span.start, span.end, start, end)
            )
            sentences.append((span.start, span.end, kinds))
    return sentences
