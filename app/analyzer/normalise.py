"""Matching text: lower case, typographic quotes and dashes folded, offsets preserved."""

import re

_FOLD = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\t": " ", "\n": " ", "\r": " ",
        "\f": " ", "\v": " ",
    }
)  # fmt: skip
_SPACES = re.compile(r"\s{2,}")


def fold(content: str) -> str:
    """Same length as `content`, so an offset in one is the same offset in the other."""
    lowered = content.lower()
    if len(lowered) != len(content):
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in content)
    return lowered.translate(_FOLD)


def squash(folded: str) -> str:
    return _SPACES.sub(" ", folded)
