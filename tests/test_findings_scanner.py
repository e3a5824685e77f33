import json

import pytest

from app.analyses.run import parse_draft
from app.analyses.scanner import FindingScanner

TRICKY = {
    "findings": [
        {
            "clause": 'He said "unlimited} liability" \\ with {braces} and [brackets]',
            "risk": "high",
            "explanation": 'Escapes: \\" and \\\\ and unicode é ✓ and \n newlines',
            "confidence": 0.9,
        },
        {"clause": "second", "risk": "low", "explanation": '{"nested": [1, 2]}', "confidence": 0.5},
    ],
    "summary": 'A summary with } and ] and "findings": [ in it.',
}


def scan(text: str, size: int) -> list[str]:
    scanner = FindingScanner()
    found: list[str] = []
    for i in range(0, len(text), size):
        found.extend(scanner.feed(text[i : i + size]))
    return found


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 1000])
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_every_finding_is_found_whatever_the_chunking(size: int, ensure_ascii: bool) -> None:
    text = json.dumps(TRICKY, ensure_ascii=ensure_ascii)
    found = scan(text, size)
    assert [json.loads(raw) for raw in found] == TRICKY["findings"]


def test_findings_close_before_the_answer_ends() -> None:
    text = json.dumps(TRICKY)
    scanner = FindingScanner()
    first_close = None
    for i, char in enumerate(text):
        if scanner.feed(char) and first_close is None:
            first_close = i
    assert first_close is not None
    assert first_close < text.index('"summary"')


def test_only_the_findings_array_counts() -> None:
    text = json.dumps({"other": [{"a": 1}], "findings": [{"b": 2}], "more": {"c": {"d": 3}}})
    assert [json.loads(raw) for raw in scan(text, 4)] == [{"b": 2}]


def test_a_fenced_answer_still_parses() -> None:
    text = "```json\n" + json.dumps(TRICKY) + "\n```"
    assert len(scan(text, 6)) == 2
    assert parse_draft(text).summary == TRICKY["summary"]
