"""The Terms of Service sentence model: word grams and hashed character grams, one linear model.

Two committed artifacts make it up: `models/claudette.json`, the word part in the shared
`SentenceModel` format (vocabulary, IDF, the word weights, bias and thresholds), and
`models/claudette.chars`, the character part (see `app.analyzer.chargrams`): per kept bucket its
IDF and weights, plus two document-level settings. Both are written by `make train-analyzer`
(`scripts/train_tos.py`). A sentence's decision value is the sum of the two parts, then:

- it is pulled toward the best sentence of the same kind in the document
  (`document_weight` times its distance below that best): the annotators mark the clause that
  does the harm, not every sentence that mentions the subject;
- it is lowered by `rival_weight` times its distance below the sentence's best kind: a
  termination clause mentions changes, a change clause mentions termination.
"""

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.analyzer.chargrams import grams
from app.analyzer.learned import MODELS_DIR, SentenceModel, extended, read_model
from app.analyzer.normalise import fold

CORPUS = "claudette"
FORMAT = "chargram-linear-1"


def chars_path(directory: Path = MODELS_DIR) -> Path:
    # Not *.json: the shared loader reads every *.json as a word model.
    return directory / f"{CORPUS}.chars"


@dataclass(frozen=True, slots=True)
class CharPart:
    bits: int
    rows: npt.NDArray[np.int32]
    """Per bucket (2**bits): its row in `idf` and `weights`, or -1 for a bucket the model does
    not read (most of them: a dense table would be 16 MiB per worker, built at every start)."""
    idf: npt.NDArray[np.float64]
    """Per row."""
    weights: npt.NDArray[np.float64]
    """(rows, categories)."""
    document_weight: float
    rival_weight: float

    @classmethod
    def from_dense(
        cls,
        bits: int,
        idf: npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64],
        document_weight: float,
        rival_weight: float,
    ) -> "CharPart":
        """From per-bucket tables (the trainer's): a bucket with no idf is not read."""
        kept = np.flatnonzero(idf)
        rows = np.full(1 << bits, -1, dtype=np.int32)
        rows[kept] = np.arange(len(kept), dtype=np.int32)
        return cls(bits, rows, idf[kept], weights[kept], document_weight, rival_weight)

    def to_json(self) -> str:
        # Rows are in bucket order (`from_dense`, `from_json`).
        kept = np.flatnonzero(self.rows >= 0).astype("<u4")
        head = {
            "format": FORMAT,
            "bits": self.bits,
            "document_weight": self.document_weight,
            "rival_weight": self.rival_weight,
            "categories": int(self.weights.shape[1]),
        }
        body = {
            "buckets": _pack(kept),
            "idf": _pack(self.idf.astype("<f2")),
            "weights": _pack(self.weights.astype("<f2")),
        }
        return json.dumps(head) + "\n" + json.dumps(body, indent=0) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "CharPart":
        head_line, _, body_text = text.partition("\n")
        head, body = json.loads(head_line), json.loads(body_text)
        if head.get("format") != FORMAT:
            raise ValueError(f"unknown character-model format {head.get('format')!r}")
        size, width = 1 << head["bits"], head["categories"]
        kept = _unpack(body["buckets"], "<u4").astype(np.int64)
        if np.any(np.diff(kept) <= 0):
            raise ValueError("the character model's buckets are not in increasing order")
        rows = np.full(size, -1, dtype=np.int32)
        rows[kept] = np.arange(len(kept), dtype=np.int32)
        return cls(
            head["bits"],
            rows,
            _unpack(body["idf"], "<f2"),
            _unpack(body["weights"], "<f2").reshape(len(kept), width),
            float(head["document_weight"]),
            float(head["rival_weight"]),
        )

    def scores(self, folded: Sequence[str]) -> npt.NDArray[np.float64]:
        """(sentences, categories): TF-IDF of the buckets, scaled to unit length, times weights."""
        out = np.zeros((len(folded), self.weights.shape[1]))
        if not folded:
            return out
        owners, buckets = grams(folded, self.bits)
        rows = self.rows[buckets]
        read = rows >= 0
        owners, rows = owners[read], rows[read]
        idf = self.idf[rows]
        # Every occurrence counts (raw tf); the length is over occurrences, which the training
        # computes the same way, so no per-(sentence, bucket) grouping is needed here.
        norms = np.sqrt(np.bincount(owners, idf * idf, minlength=len(folded)))
        scale = idf / norms[owners]
        for k in range(out.shape[1]):
            out[:, k] = np.bincount(owners, scale * self.weights[rows, k], minlength=len(folded))
        return out


def adjust(values: npt.NDArray[np.float64], chars: CharPart) -> npt.NDArray[np.float64]:
    """The document-level settings, on one document's sentences' raw decision values."""
    if not len(values):
        return values
    pulled: npt.NDArray[np.float64] = values + chars.document_weight * (values - values.max(axis=0))
    adjusted: npt.NDArray[np.float64] = pulled - chars.rival_weight * (
        pulled.max(axis=1, keepdims=True) - pulled
    )
    return adjusted


@dataclass(frozen=True, slots=True)
class TosModel(SentenceModel):
    """`scores` reads a whole document's sentences at once (the document-level settings)."""

    chars: CharPart | None = None

    def raw_scores(self, folded: Sequence[str]) -> npt.NDArray[np.float64]:
        words = SentenceModel.scores(self, folded, folded=True)
        return words if self.chars is None else words + self.chars.scores(folded)

    def scores(
        self,
        sentences: Sequence[str],
        *,
        folded: bool = False,
        contexts: Sequence[str] | None = None,
    ) -> npt.NDArray[np.float64]:
        texts = list(sentences) if folded else [fold(s) for s in sentences]
        raw = self.raw_scores(texts)
        return raw if self.chars is None else adjust(raw, self.chars)


def combine(words: SentenceModel, chars: CharPart) -> TosModel:
    return extended(words, TosModel, chars=chars)


def read(directory: Path = MODELS_DIR) -> TosModel:
    chars = CharPart.from_json(chars_path(directory).read_text(encoding="utf-8"))
    return combine(read_model(CORPUS, directory), chars)


@cache
def load(corpus: str = CORPUS) -> SentenceModel:
    """Read once per process, on first use (never at import)."""
    if corpus != CORPUS:
        raise ValueError(f"the Terms of Service model is {CORPUS!r}, not {corpus!r}")
    return read()


def _pack(array: npt.NDArray[np.generic]) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _unpack(text: str, dtype: str) -> npt.NDArray[np.float64]:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).astype(np.float64)
