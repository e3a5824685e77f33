"""The shape of the catalogue: signals that raise a risk, blockers that cancel it, judges."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from app.schemas import RiskLevel


@dataclass(frozen=True, slots=True)
class Verdict:
    risk: RiskLevel
    confidence: float
    detail: str = ""


Judge = Callable[[str], Verdict | None]
"""Looks at the normalised sentence; returns the verdict, or None when the clause is acceptable."""


class LazyPattern:
    """A catalogue pattern, compiled on its first search.

    Compiling all of the catalogue's patterns took about a tenth of the offline analyzer's start
    (60 ms of CPU per replica); a document type uses only some of them, and a sentence reaches a
    rule's signals only through its gates. Two threads may both compile it once: same result.
    """

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.source = source
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def search(self, text: str) -> re.Match[str] | None:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = rx(self.source, self.flags)
        return compiled.search(text)


@dataclass(frozen=True, slots=True)
class Signal:
    pattern: LazyPattern
    confidence: float
    risk: RiskLevel | None = None
    judge: Judge | None = None


STRONG = 0.85
"""Signals at least this confident ignore a rule's softeners (never its blockers)."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    risk: RiskLevel
    explanation: str
    document_types: frozenset[str]
    gates: tuple[str, ...]
    """A sentence is considered only if it contains one of these (plain substring search)..."""
    signals: tuple[Signal, ...]
    requires: tuple[str, ...] = ()
    """...and, when given, one of these as well."""
    blockers: tuple[LazyPattern, ...] = ()
    softeners: tuple[LazyPattern, ...] = ()
    blocker_scope: Literal["sentence", "clause"] = "sentence"


@dataclass(frozen=True, slots=True)
class DocumentRule:
    """A risk that lies in what the whole document fails to say."""

    id: str
    title: str
    risk: RiskLevel
    explanation: str
    document_types: frozenset[str]
    satisfied_by: re.Pattern[str]
    anchor: re.Pattern[str]
    confidence: float


_GAP = re.compile(r"~(\d+)~")


def rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile, expanding `~N~` into "then up to N more words".

    The gap tolerates punctuation, and as word and non-word runs alternate it can match in only
    one way, so it cannot backtrack badly.
    """
    return re.compile(_GAP.sub(lambda gap: rf"(?:\W+\w+){{0,{gap.group(1)}}}?\W+", pattern), flags)


def signal(
    pattern: str,
    confidence: float,
    risk: RiskLevel | None = None,
    judge: Judge | None = None,
) -> Signal:
    return Signal(LazyPattern(pattern), confidence, risk, judge)


def blockers(*patterns: str) -> tuple[LazyPattern, ...]:
    return tuple(LazyPattern(p) for p in patterns)


def terms(alternatives: str) -> tuple[str, ...]:
    """Gate or required words written "a|b|c" (spaces inside a word are kept)."""
    return tuple(alternatives.split("|"))
