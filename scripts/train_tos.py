"""Train the Terms of Service sentence model (`app.analyzer.tos_model`) from CLAUDETTE.

    python -m scripts.train_tos            # rewrites app/analyzer/models/claudette.{json,chars}
    python -m scripts.train_tos --check    # exit 1 when the committed artifacts are stale

`make train-analyzer` runs it too (through `scripts.train_analyzer`). One class-balanced L2
logistic regression per kind over two feature blocks, each scaled to unit length per sentence:
TF-IDF word uni- and bigrams (the shared `featurise`, sublinear tf, in at least `MIN_DF`
training documents) and TF-IDF hashed character 2- to 5-grams (`app.analyzer.chargrams`, in at
least `CHAR_MIN_DF` training documents). The decision threshold is chosen by an inner
cross-validation over the training documents only (`INNER_FOLDS` folds by document, each read
end to end by the analyzer). The other
settings were fixed beforehand (docs/analyzer-terms-of-service.md says how). Deterministic:
liblinear with a fixed seed, sorted features, weights rounded the same way every time.
"""

from __future__ import annotations

import argparse
import sys
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from app.analyzer.chargrams import grams
from app.analyzer.engine import find_hits
from app.analyzer.learned import SentenceModel, featurise, model_path
from app.analyzer.normalise import fold
from app.analyzer.tos_model import CharPart, TosModel, chars_path, combine
from scripts.train_analyzer import CORPORA, ROOT, SEED, LabelledDocument, tfidf_matrix

CORPUS = CORPORA["claudette"]
C = 4.0
MIN_DF = 2
CHAR_BITS = 18
CHAR_MIN_DF = 3
DOCUMENT_WEIGHT = 0.1
RIVAL_WEIGHT = 0.2
INNER_FOLDS = 3
THRESHOLD_GRID = (-0.75, -0.5, -0.25, 0.0, 0.25, 0.5)


@dataclass(frozen=True, slots=True)
class _Examples:
    folded: list[str]
    labels: npt.NDArray[np.bool_]
    """(sentences, categories)."""
    owners: npt.NDArray[np.int64]
    """The document of each sentence."""


def _examples(documents: Sequence[LabelledDocument]) -> _Examples:
    folded, labels, owners = [], [], []
    for number, document in enumerate(documents):
        for sentence in document.sentences:
            text = document.text[sentence.start : sentence.end].strip()
            folded.append(fold(text))
            labels.append([c in sentence.labels for c in CORPUS.categories])
            owners.append(number)
    return _Examples(
        folded,
        np.asarray(labels, dtype=bool).reshape(len(folded), len(CORPUS.categories)),
        np.asarray(owners, dtype=np.int64),
    )


def _word_block(
    examples: _Examples,
) -> tuple[sparse.csr_matrix, dict[str, int], npt.NDArray[np.float64]]:
    """The same TF-IDF `SentenceModel.scores` computes: (1 + ln tf) * idf, unit length."""
    counts = [featurise(text) for text in examples.folded]
    seen: dict[int, set[str]] = {}
    for feature_counts, owner in zip(counts, examples.owners.tolist(), strict=True):
        seen.setdefault(owner, set()).update(feature_counts)
    document_frequency: Counter[str] = Counter()
    for features in seen.values():
        document_frequency.update(features)
    vocabulary = {
        f: i for i, f in enumerate(sorted(f for f, n in document_frequency.items() if n >= MIN_DF))
    }
    sentence_frequency = np.zeros(len(vocabulary))
    for feature_counts in counts:
        for feature in feature_counts:
            if (index := vocabulary.get(feature)) is not None:
                sentence_frequency[index] += 1
    idf = np.log((1 + len(counts)) / (1 + sentence_frequency)) + 1.0
    return tfidf_matrix(counts, vocabulary, idf), vocabulary, idf


def char_tfidf(
    folded: list[str], owners: npt.NDArray[np.int64], bits: int, min_df: int
) -> tuple[sparse.csr_matrix, npt.NDArray[np.float64]]:
    """The same TF-IDF `CharPart.scores` computes: every occurrence counts, unit length over
    the occurrences; buckets seen in fewer than `min_df` documents (`owners`: each sentence's
    document) get IDF 0 (unread)."""
    size = 1 << bits
    count = len(folded)
    if not count:
        return sparse.csr_matrix((0, size)), np.zeros(size)
    sentence_of, buckets = grams(folded, bits)
    in_documents = np.unique(owners[sentence_of] * size + buckets) % size
    kept = np.bincount(in_documents, minlength=size) >= min_df
    in_sentences = np.unique(sentence_of * size + buckets) % size
    sentence_frequency = np.bincount(in_sentences, minlength=size)
    idf = np.where(kept, np.log((1 + count) / (1 + sentence_frequency)) + 1.0, 0.0)
    # What the artifact stores (float16): training must see the same numbers as inference.
    idf = idf.astype("<f2").astype(np.float64)
    read = idf[buckets] > 0
    sentence_of, buckets = sentence_of[read], buckets[read]
    values = idf[buckets]
    norms = np.sqrt(np.bincount(sentence_of, values * values, minlength=count))
    matrix = sparse.csr_matrix(
        (values / norms[sentence_of], (sentence_of, buckets)), shape=(count, size)
    )
    matrix.sum_duplicates()
    return matrix, idf


def _char_block(examples: _Examples) -> tuple[sparse.csr_matrix, npt.NDArray[np.float64]]:
    return char_tfidf(examples.folded, examples.owners, CHAR_BITS, CHAR_MIN_DF)


def _fit_raw(documents: Sequence[LabelledDocument]) -> TosModel:
    """Weights only (threshold 0), as the artifacts will hold them."""
    examples = _examples(documents)
    words, vocabulary, word_idf = _word_block(examples)
    chars, char_idf = _char_block(examples)
    matrix = sparse.hstack([words, chars], format="csr")
    categories = CORPUS.categories
    weights = np.zeros((matrix.shape[1], len(categories)))
    bias = np.zeros(len(categories))
    for k in range(len(categories)):
        classifier = LogisticRegression(
            C=C, solver="liblinear", class_weight="balanced", random_state=SEED
        )
        classifier.fit(matrix, examples.labels[:, k])
        weights[:, k] = classifier.coef_[0]
        bias[k] = classifier.intercept_[0]
    word_model = SentenceModel(
        corpus=CORPUS.name,
        categories=categories,
        vocabulary=vocabulary,
        idf=word_idf,
        weights=weights[: len(vocabulary)],
        bias=bias,
        thresholds=np.zeros(len(categories)),
    )
    char_part = CharPart.from_dense(
        CHAR_BITS, char_idf, weights[len(vocabulary) :], DOCUMENT_WEIGHT, RIVAL_WEIGHT
    )
    return _round_trip(combine(word_model, char_part))


def _round_trip(model: TosModel) -> TosModel:
    """The evaluation must score exactly what would ship (the artifacts round)."""
    assert model.chars is not None
    return combine(
        SentenceModel.from_json(model.to_json()), CharPart.from_json(model.chars.to_json())
    )


def _findings(model: TosModel, document: LabelledDocument) -> list[tuple[str, int, int]]:
    """(kind, start, end) of the analyzer's findings of the eight kinds, end to end."""
    hits = find_hits(document.text, "terms_of_service", {CORPUS.name: model})
    return [(h.category, h.start, h.end) for h in hits if h.category in CORPUS.categories]


def tally(document: LabelledDocument, found: list[tuple[str, int, int]]) -> tuple[int, int, int]:
    """Micro (tp, fp, fn) over the eight kinds, each finding mapped onto every labelled sentence
    its quote overlaps (what `tests/eval_claudette.py` reports)."""
    starts = [s.start for s in document.sentences]
    predicted: list[set[str]] = [set() for _ in document.sentences]
    for kind, start, end in found:
        index = max(0, bisect_left(starts, start) - 1)
        while index < len(document.sentences) and document.sentences[index].start < end:
            if document.sentences[index].end > start:
                predicted[index].add(kind)
            index += 1
    tp = fp = fn = 0
    for sentence, kinds in zip(document.sentences, predicted, strict=True):
        gold = sentence.labels & set(CORPUS.categories)
        tp += len(kinds & gold)
        fp += len(kinds - gold)
        fn += len(gold - kinds)
    return tp, fp, fn


def _inner_threshold(documents: Sequence[LabelledDocument]) -> float:
    """The grid threshold whose lower of micro precision and recall is highest (the targets ask
    for both), the inner folds' documents read end to end by the analyzer with a model trained
    on the other inner folds."""
    ordered = sorted(documents, key=lambda d: d.name)
    totals = {threshold: [0, 0, 0] for threshold in THRESHOLD_GRID}
    for part in range(INNER_FOLDS):
        held = ordered[part::INNER_FOLDS]
        names = {d.name for d in held}
        model = _fit_raw([d for d in ordered if d.name not in names])
        for threshold in THRESHOLD_GRID:
            at = replace(model, thresholds=np.full(len(CORPUS.categories), threshold))
            for document in held:
                counts = tally(document, _findings(at, document))
                totals[threshold] = [a + b for a, b in zip(totals[threshold], counts, strict=True)]
    best, best_score = THRESHOLD_GRID[0], -1.0
    for threshold, (tp, fp, fn) in totals.items():
        score = min(tp / max(1, tp + fp), tp / max(1, tp + fn))
        if score > best_score:
            best, best_score = threshold, score
    return best


def fit(documents: Sequence[LabelledDocument]) -> TosModel:
    """Train on these documents only (the evaluation passes its training folds)."""
    model = _fit_raw(documents)
    threshold = _inner_threshold(documents)
    return _round_trip(replace(model, thresholds=np.full(len(CORPUS.categories), threshold)))


def artifacts() -> dict[str, str]:
    """Relative path -> the bytes `make train-analyzer` writes."""
    model = fit(CORPUS.load())
    assert model.chars is not None
    return {
        str(model_path(CORPUS.name).relative_to(ROOT)): model.to_json(),
        str(chars_path().relative_to(ROOT)): model.chars.to_json(),
    }


# One step of the artifacts' rounding: 4 significant digits; float16 for the character part
# (whose subnormals, below 6e-5, step by 2**-24).
ROUNDING = 1.1e-3


def same_model(relative: str, committed: str, fresh: str) -> bool:
    """The same model, bytes aside. The solver's sums run in an order that depends on the CPU, so
    a weight that sits on a rounding boundary can round the other way on another machine: the
    same features and buckets with every value within one rounding step is the same model."""
    if committed == fresh:
        return True
    if relative.endswith(".chars"):
        old_chars, new_chars = CharPart.from_json(committed), CharPart.from_json(fresh)
        pairs = [(old_chars.idf, new_chars.idf), (old_chars.weights, new_chars.weights)]
        if not np.array_equal(old_chars.rows, new_chars.rows):
            return False
    else:
        old, new = SentenceModel.from_json(committed), SentenceModel.from_json(fresh)
        if old.vocabulary != new.vocabulary or old.categories != new.categories:
            return False
        pairs = [
            (getattr(old, f), getattr(new, f)) for f in ("idf", "weights", "bias", "thresholds")
        ]
    return all(
        a.shape == b.shape and np.allclose(a, b, rtol=ROUNDING, atol=2**-24) for a, b in pairs
    )


def write(*, check: bool) -> list[str]:
    """Write the artifacts (or, with `check`, compare them); the stale paths."""
    stale = []
    for relative, text in artifacts().items():
        path = ROOT / relative
        if check:
            if not path.exists() or not same_model(relative, path.read_text("utf-8"), text):
                stale.append(relative)
            continue
        path.write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {relative} ({len(text.encode()) // 1024} KiB)\n")
    return stale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when an artifact is stale")
    stale = write(check=parser.parse_args().check)
    if stale:
        sys.exit(f"stale sentence models (run make train-analyzer): {', '.join(stale)}")


if __name__ == "__main__":
    main()
