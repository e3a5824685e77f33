"""Numbers, durations and rates written the way contracts write them ("ninety (90) days")."""

import re

_UNITS = {
    "zero": 0, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_WORD = "|".join(sorted([*_UNITS, *_TENS], key=len, reverse=True))
NUMBER = (
    rf"(?:\d+(?:[.,]\d+)?|(?:{_WORD})(?:[- ](?:{_WORD}))?(?:\s*\(\d+\))?|one hundred(?: and \w+)?)"
)

_HOURS = {"hour": 1.0, "day": 24.0, "week": 168.0, "month": 730.0, "year": 8760.0}
_DURATION = re.compile(
    rf"\b({NUMBER})[- ](?:\w+ ){{0,2}}?(hour|day|week|month|year)s?\b",
)
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s?(?:%|per ?cent\b)")


def number(text: str) -> float | None:
    digits = re.search(r"\d+(?:[.,]\d+)?", text)
    if digits:
        return float(digits.group().replace(",", "."))
    total = 0
    for word in re.findall(r"[a-z]+", text):
        if word in _TENS:
            total += _TENS[word]
        elif word in _UNITS:
            total += _UNITS[word]
        elif word == "hundred":
            total = max(total, 1) * 100
    return float(total) if total else None


def durations_in_hours(text: str) -> list[float]:
    found: list[float] = []
    for match in _DURATION.finditer(text):
        value = number(match.group(1))
        if value is not None:
            found.append(value * _HOURS[match.group(2)])
    return found


def durations_in_days(text: str) -> list[float]:
    return [hours / 24 for hours in durations_in_hours(text)]


def percentages(text: str) -> list[tuple[float, int]]:
    """Each percentage with the offset where it ends, to read what follows it."""
    return [(float(m.group(1).replace(",", ".")), m.end()) for m in _PERCENT.finditer(text)]
