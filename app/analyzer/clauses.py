"""Split a document into clauses (numbered sections, paragraphs) and sentences, with offsets."""

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

MAX_SENTENCE_CHARS = 600
_SOFT_SPLIT_CHARS = 400

_MARKER = re.compile(
    r"[ \t]*(?:"
    r"\d{1,3}(?:\.\d{1,3})*\.(?=[ \t])|\d{1,3}(?:\.\d{1,3})+(?=[ \t])"
    r"|\(\s?(?:[a-z]|[ivx]{1,5}|\d{1,3})\s?\)"
    r"|(?:[a-z]|[ivx]{1,5})\)"
    r"|(?:section|clause|article|schedule|annex|part)[ \t]+[0-9ivxlc]+(?:\.\d+)*\b"
    r"|[a-z]\.(?=[ \t])"
    r"|[-*•·–]"
    r")",
    re.IGNORECASE,
)
_HEADING = re.compile(r"[^\n]{1,60}")
_HEADING_END = frozenset(".,;:!?\"')”’")
_LEADING_NUMBER = re.compile(r"[ \t]*(?:\(?[0-9ivx]{1,4}[.)]|[a-z][.)])+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+")
_SEMICOLON = re.compile(r"[;:]\s+(?=\(?(?:[a-z]|[ivx]{1,5}|\d{1,2})\)\s)|;\s+")
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|no|nos|inc|ltd|co|corp|art|arts|para|paras|cl|sec|vs|cf|approx|"
    r"mr|mrs|ms|dr|st|u\.s|u\.k|e\.u|n\.v|b\.v|s\.a|p\.a)|\b[a-z]|\.[a-z])$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Clause:
    start: int
    end: int
    sentences: tuple[Span, ...]


def trimmed(text: str, start: int, end: int) -> Span | None:
    """`text[start:end]` without its surrounding white space; None when nothing is left."""
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return None
    start += len(piece) - len(piece.lstrip())
    return Span(start, start + len(stripped))


def _blocks(text: str) -> list[Span]:
    """Paragraphs, cut again wherever a line opens with a section or list marker."""
    blocks: list[Span] = []
    start: int | None = None
    position = 0
    for line in text.splitlines(keepends=True):
        line_start, position = position, position + len(line)
        if not line.strip():
            if start is not None:
                blocks.append(Span(start, line_start))
                start = None
        elif start is None:
            start = line_start
        elif _MARKER.match(line):
            blocks.append(Span(start, line_start))
            start = line_start
    if start is not None:
        blocks.append(Span(start, len(text)))
    spans = [span for block in blocks if (span := trimmed(text, block.start, block.end))]
    return [piece for span in spans for piece in _detach_heading(text, span)]


def _detach_heading(text: str, span: Span) -> list[Span]:
    """A short first line without final punctuation is a heading: keep it out of the clause."""
    newline = text.find("\n", span.start, span.end)
    if newline < 0 or text[newline - 1] in _HEADING_END:
        return [span]
    if not _HEADING.fullmatch(text, span.start, newline):
        return [span]
    return [s for s in (trimmed(text, span.start, newline), trimmed(text, newline, span.end)) if s]


def _sentence_ends(text: str) -> list[int]:
    """Offsets just after each sentence end in the whole text (abbreviations and "12." excluded)."""
    ends: list[int] = []
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end >= len(text) or text[end].islower():
            continue
        period = match.start()
        if _ABBREVIATION.search(text, max(0, period - 8), period):
            continue
        line_start = text.rfind("\n", 0, period) + 1
        if period - line_start < 12 and _LEADING_NUMBER.fullmatch(text, line_start, period + 1):
            continue
        ends.append(end)
    return ends


def _split_long(text: str, span: Span) -> list[Span]:
    """Keep every sentence short enough to quote: cut long ones at ';' and then at spaces."""
    cuts = [m.end() for m in _SEMICOLON.finditer(text, span.start, span.end)]
    pieces: list[Span] = []
    start = span.start
    for cut in [*cuts, span.end]:
        if cut - start >= _SOFT_SPLIT_CHARS or cut == span.end:
            while cut - start > MAX_SENTENCE_CHARS:
                space = text.rfind(" ", start + _SOFT_SPLIT_CHARS, start + MAX_SENTENCE_CHARS)
                stop = space if space > start else start + MAX_SENTENCE_CHARS
                pieces.append(Span(start, stop))
                start = stop
            pieces.append(Span(start, cut))
            start = cut
    return [piece for p in pieces if (piece := trimmed(text, p.start, p.end))]


def _sentences(text: str, block: Span, ends: list[int]) -> tuple[Span, ...]:
    cuts = ends[bisect_right(ends, block.start) : bisect_left(ends, block.end)]
    sentences: list[Span] = []
    begin = block.start
    for cut in [*cuts, block.end]:
        span = trimmed(text, begin, cut)
        if span:
            if span.end - span.start > MAX_SENTENCE_CHARS:
                sentences.extend(_split_long(text, span))
            else:
                sentences.append(span)
        begin = cut
    return tuple(sentences)


def split_clauses(text: str) -> list[Clause]:
    ends = _sentence_ends(text)
    return [
        Clause(block.start, block.end, _sentences(text, block, ends)) for block in _blocks(text)
    ]
