"""Hashed character n-grams of sentences, computed for a whole document at once in NumPy.

A sentence's letters and digits are kept (every digit becomes "0"), every other run of
characters becomes one space, and the sentence is padded with a space on each side; every
n-gram of it (n = 2 … 5, word boundaries included, so "we may" yields "e m" too) is hashed
into one of `2**bits` buckets. Training and inference share this one function, so the model
reads exactly the features it was trained on.
"""

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

SIZES = (2, 3, 4, 5)
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_DIGIT = re.compile(r"[0-9]")
_BASE = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SEPARATOR = 1
"""Between sentences; no n-gram spans it."""


def grams(
    sentences: Sequence[str], bits: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(sentence index, bucket) of every n-gram occurrence; `sentences` already folded."""
    cleaned = [" " + _DIGIT.sub("0", _NOT_WORD.sub(" ", s)).strip() + " " for s in sentences]
    joined = "\x01".join(cleaned)
    codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).astype(np.uint64)
    sentence_of = np.cumsum(codes == _SEPARATOR)
    owners: list[npt.NDArray[np.int64]] = []
    buckets: list[npt.NDArray[np.int64]] = []
    hashed = np.zeros(len(codes), dtype=np.uint64)
    blocked = np.zeros(len(codes), dtype=bool)
    shift = np.uint64(64 - bits)
    for n in range(1, SIZES[-1] + 1):
        # hashed[i] is the hash of codes[i : i + n]; it loses its last n - 1 slots.
        if n == 1:
            hashed = codes.copy()
            blocked = codes == _SEPARATOR
        else:
            hashed = hashed[:-1] * _BASE + codes[n - 1 :]
            blocked = blocked[:-1] | (codes[n - 1 :] == _SEPARATOR)
        if n not in SIZES:
            continue
        keep = np.flatnonzero(~blocked)
        mixed = (hashed[keep] + np.uint64(n)) * _MIX
        buckets.append((mixed >> shift).astype(np.int64))
        owners.append(sentence_of[keep].astype(np.int64))
    return np.concatenate(owners), np.concatenate(buckets)
