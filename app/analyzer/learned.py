"""A small learned sentence classifier: TF-IDF word uni- and bigrams, one linear model per category.

The fitted weights are a committed JSON artifact (`app/analyzer/models/<corpus>.json`, written by
`make train-analyzer`); inference here is NumPy only, deterministic and offline. The contract
model is this alone; the Terms of Service model (app/analyzer/tos_model.py) adds a character
part of its own artifact to it. `learned_sets.load_models` reads them all at start-up.

Parsing the JSON costs about half a second per process, on the start-up path of the offline
analyzer, so the image's build compiles each artifact to NumPy's `.npz` beside it
(`python -m app.analyzer`), which loads in milliseconds. The compiled file names the
SHA-256 of the JSON it came from and is used only while that still matches: a retrained model is
never served from a stale compilation, it is parsed from its JSON as before.
"""

import hashlib
import json
import math
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from numpy.lib.npyio import NpzFile

from app.analyzer.normalise import fold
from app.schemas import RiskLevel

MODELS_DIR = Path(__file__).with_name("models")
FORMAT = "tfidf-linear-1"

_WORD = re.compile(r"[a-z]+|\d+")


def _grams(folded: str) -> list[str]:
    """Word unigrams then bigrams of already folded text; every number is the one token "0"."""
    words = ["0" if word[0].isdigit() else word for word in _WORD.findall(folded)]
    return [*words, *(f"{a} {b}" for a, b in pairwise(words))]


CONTEXT_WORDS = 8
"""How many words of the sentence before (often the clause heading) a context model reads."""


def _context_grams(folded: str) -> list[str]:
    """The first words of the sentence before, marked so they never meet the sentence's own."""
    words = ["0" if word[0].isdigit() else word for word in _WORD.findall(folded)]
    return [f"^{word}" for word in words[:CONTEXT_WORDS]]


def featurise(text: str, context: str | None = None) -> Counter[str]:
    """Word unigrams and bigrams with their counts (what training sees), plus the context's."""
    grams = _grams(fold(text))
    if context is not None:
        grams.extend(_context_grams(fold(context)))
    return Counter(grams)


@dataclass(frozen=True, slots=True)
class Advice:
    """What a finding of one learned category says: its title, default risk and explanation."""

    title: str
    risk: RiskLevel
    explanation: str


@dataclass(frozen=True, slots=True)
class SentenceModel:
    corpus: str
    categories: tuple[str, ...]
    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    """(features, categories)."""
    bias: npt.NDArray[np.float64]
    thresholds: npt.NDArray[np.float64]
    """Per category, on the decision value (the logit)."""

    def scores(
        self,
        sentences: Sequence[str],
        *,
        folded: bool = False,
        contexts: Sequence[str] | None = None,
    ) -> npt.NDArray[np.float64]:
        """(sentences, categories) decision values; a sentence with no known word scores the bias.

        `folded`: the sentences (and contexts) are already `fold`ed (the engine folds a document
        once). `contexts`: per sentence, the sentence before it, for a model trained with them.
        """
        get = self.vocabulary.get
        indices: list[int] = []
        owners: list[int] = []
        for row, sentence in enumerate(sentences):
            grams = _grams(sentence if folded else fold(sentence))
            if contexts is not None:
                context = contexts[row]
                grams.extend(_context_grams(context if folded else fold(context)))
            found = [i for i in map(get, grams) if i is not None]
            indices.extend(found)
            owners.extend([row] * len(found))
        out = np.tile(self.bias, (len(sentences), 1))
        if not indices:
            return out
        # Term counts per (sentence, feature), then (1 + ln tf) * idf, L2-normalised per sentence.
        width = len(self.vocabulary)
        keys, counts = np.unique(
            np.asarray(owners, dtype=np.int64) * width + np.asarray(indices, dtype=np.int64),
            return_counts=True,
        )
        owner_array, index_array = np.divmod(keys, width)
        weighted = (1.0 + np.log(counts)) * self.idf[index_array]
        norms = np.sqrt(np.bincount(owner_array, weighted * weighted, minlength=len(sentences)))
        weighted /= norms[owner_array]
        contributions = weighted[:, None] * self.weights[index_array]
        starts = np.flatnonzero(np.r_[True, owner_array[1:] != owner_array[:-1]])
        out[owner_array[starts]] += np.add.reduceat(contributions, starts, axis=0)
        return out

    def predict(
        self, sentences: Sequence[str], *, folded: bool = False
    ) -> list[list[tuple[str, float]]]:
        """Per sentence, the (category, probability) pairs over their thresholds, best first."""
        scores = self.scores(sentences, folded=folded)
        above = scores >= self.thresholds
        result: list[list[tuple[str, float]]] = [[] for _ in sentences]
        for row in np.flatnonzero(above.any(axis=1)):
            found = [
                (self.categories[k], 1.0 / (1.0 + math.exp(-float(scores[row, k]))))
                for k in np.flatnonzero(above[row])
            ]
            result[row] = sorted(found, key=lambda pair: -pair[1])
        return result

    def to_json(self) -> str:
        """Stable bytes: features sorted, numbers rounded, so retraining rewrites the same file."""
        lines = []
        for feature in sorted(self.vocabulary):
            i = self.vocabulary[feature]
            numbers = [_round(self.idf[i]), *(_round(w) for w in self.weights[i])]
            lines.append(f"{json.dumps(feature, ensure_ascii=False)}:{json.dumps(numbers)}")
        head = {
            "format": FORMAT,
            "corpus": self.corpus,
            "categories": list(self.categories),
            "bias": [_round(b) for b in self.bias],
            "thresholds": [_round(t) for t in self.thresholds],
        }
        # One feature per line: small diffs when the data changes, readable in review.
        return json.dumps(head)[:-1] + ',\n"features":{\n' + ",\n".join(lines) + "\n}}\n"

    @classmethod
    def from_json(cls, text: str) -> "SentenceModel":
        document = json.loads(text)
        if document.get("format") != FORMAT:
            raise ValueError(f"unknown sentence-model format {document.get('format')!r}")
        rows = document["features"]
        table = np.asarray(list(rows.values()), dtype=np.float64).reshape(
            len(rows), 1 + len(document["categories"])
        )
        return cls(
            corpus=document["corpus"],
            categories=tuple(document["categories"]),
            vocabulary={feature: i for i, feature in enumerate(rows)},
            idf=np.ascontiguousarray(table[:, 0]),
            weights=np.ascontiguousarray(table[:, 1:]),
            bias=np.asarray(document["bias"], dtype=np.float64),
            thresholds=np.asarray(document["thresholds"], dtype=np.float64),
        )

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """The model as plain arrays (no pickled objects); `from_arrays` reads them back."""
        return {
            "corpus": _text(self.corpus),
            "categories": _text("\n".join(self.categories)),
            # Features are folded word grams: never a newline.
            "features": _text("\n".join(self.vocabulary)),
            "idf": self.idf,
            "weights": self.weights,
            "bias": self.bias,
            "thresholds": self.thresholds,
        }

    @classmethod
    def from_arrays(cls, arrays: NpzFile) -> "SentenceModel":
        features = _untext(arrays["features"]).split("\n")
        return cls(
            corpus=_untext(arrays["corpus"]),
            categories=tuple(_untext(arrays["categories"]).split("\n")),
            vocabulary=dict(zip(features, range(len(features)), strict=True)),
            idf=arrays["idf"],
            weights=arrays["weights"],
            bias=arrays["bias"],
            thresholds=arrays["thresholds"],
        )


M = TypeVar("M", bound=SentenceModel)


def extended(words: SentenceModel, model_type: type[M], **parts: Any) -> M:
    """The word model `words` as `model_type`: a sentence model with more parts."""
    return model_type(**{f.name: getattr(words, f.name) for f in fields(SentenceModel)}, **parts)


def _text(value: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(value.encode("utf-8"), dtype=np.uint8)


def _untext(array: npt.NDArray[np.generic]) -> str:
    return array.tobytes().decode("utf-8")


def _round(value: float) -> float:
    return float(f"{float(value):.4g}")


def model_path(corpus: str, directory: Path = MODELS_DIR) -> Path:
    return directory / f"{corpus}.json"


def compiled_path(corpus: str, directory: Path = MODELS_DIR) -> Path:
    return directory / f"{corpus}.npz"


@cache
def load(corpus: str) -> SentenceModel:
    """Read once per process, on first use (never at import)."""
    return read_model(corpus)


def read_model(corpus: str, directory: Path = MODELS_DIR) -> SentenceModel:
    """The compiled model if it was compiled from this very JSON, else the JSON."""
    source = model_path(corpus, directory).read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    try:
        with (
            compiled_path(corpus, directory).open("rb") as file,
            np.load(file, allow_pickle=False) as arrays,
        ):
            if _untext(arrays["source_sha256"]) == digest:
                return SentenceModel.from_arrays(arrays)
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        pass  # not compiled (a checkout), or unreadable: the JSON is the truth
    return SentenceModel.from_json(source.decode("utf-8"))


def compile_model(corpus: str, directory: Path = MODELS_DIR) -> Path:
    """Write `<corpus>.npz` beside `<corpus>.json`, naming the JSON's SHA-256."""
    source = model_path(corpus, directory).read_bytes()
    model = SentenceModel.from_json(source.decode("utf-8"))
    target = compiled_path(corpus, directory)
    arrays: dict[str, Any] = {
        "source_sha256": _text(hashlib.sha256(source).hexdigest()),
        **model.to_arrays(),
    }
    with target.open("wb") as out:
        np.savez(out, allow_pickle=False, **arrays)
    return target


def compile_all() -> list[Path]:
    return [compile_model(path.stem) for path in sorted(MODELS_DIR.glob("*.json"))]
